"""Devir-teslim: all open work of a leaving employee moves to the successor in one step, with a record
and a tutanak PDF; a user holding open work cannot be deactivated."""

from __future__ import annotations

import hashlib
import re
import zlib
from datetime import date, timedelta

import pytest
from factories import act, deploy, read, start
from sqlalchemy import func, select

from engine import clock, handover, people, tasks
from engine.errors import Conflict, InvalidInput, NotAllowed, NotFound
from engine.models import AuditEvent, Group, Handover, HumanTask, Substitution, TaskState, User

LAST_DAY = date(2026, 12, 31)


def make_user(db, username, groups, full_name="Şükrü İlkay Öztürk"):
    """A fresh user (the people tables are kept between tests, so each test uses its own names)."""

    def create(s, _a):
        user = people.ensure_user(s, username, full_name, email=f"{username}@kalem.local", title="Memur")
        for code in groups:
            people.set_membership(s, user, s.scalar(select(Group).where(Group.code == code)))

    act(db, None, create)


def task_for(db, username, group, key):
    start(
        db, "coklu_grup", username="admin", data={"gruplar": group, "son_tarih": None, "oncelik": 50}, business_key=key
    )
    task_id = read(db, lambda s: s.scalar(select(HumanTask.id).where(HumanTask.business_key == key)))
    act(db, "admin", lambda s, a: tasks.assign(s, a, task_id, username))
    return task_id


def stored(db, handover_id):
    """The record with its (deferred) PDF loaded."""

    def load(s):
        record = s.get(Handover, handover_id)
        assert record.pdf is not None
        return record

    return read(db, load)


def pdf_characters(pdf: bytes) -> set[str]:
    """Characters the PDF's fonts map glyphs to (their ToUnicode tables): what the text is made of."""
    found = set()
    for stream in re.findall(rb"stream\r?\n(.*?)\r?\nendstream", pdf, re.S):
        try:
            text = zlib.decompress(stream)
        except zlib.error:
            continue
        found |= {chr(int(code, 16)) for code in re.findall(rb"<[0-9A-Fa-f]+>\s*<([0-9A-Fa-f]{4})>", text)}
    return found


def held_vekalet(db, principal, substitute):
    now = clock.now()
    return act(
        db,
        "admin",
        lambda s, a: (
            people.add_substitution(
                s, a, principal, substitute, now - timedelta(days=1), now + timedelta(days=5), reason="yillik_izin"
            ).id
        ),
    )


def test_handover_moves_every_open_item_and_records_a_tutanak(db):
    deploy(db, "coklu_grup.bpmn")
    make_user(db, "ayrilan.a", ["zabita"])
    t1, t2 = task_for(db, "ayrilan.a", "zabita", "H-1"), task_for(db, "ayrilan.a", "zabita", "H-2")
    old_sub = held_vekalet(db, "idari1", "ayrilan.a")
    note = "<b>Dosyalar</b> dolapta & anahtar Şef'te"
    record = act(
        db,
        "zabita.mudur",
        lambda s, a: handover.handover(
            s, a, "ayrilan.a", "zabita.memur", "emeklilik", LAST_DAY, note=note, deactivate=True
        ),
    )
    for task_id in (t1, t2):
        task = read(db, lambda s, i=task_id: s.get(HumanTask, i))
        assert (task.state, task.assignee) == (TaskState.CLAIMED, "zabita.memur")
    subs = read(db, lambda s: {x.id: x for x in s.scalars(select(Substitution))})
    assert subs[old_sub].revoked_at is not None
    [new_sub] = [x for x in subs.values() if x.id != old_sub]
    assert (new_sub.principal.username, new_sub.substitute.username) == ("idari1", "zabita.memur")
    assert new_sub.ends_at == subs[old_sub].ends_at and new_sub.revoked_at is None

    saved = stored(db, record.id)
    assert (saved.task_count, saved.substitution_count, saved.deactivated) == (2, 1, True)
    assert [i["kind"] for i in saved.items] == ["task", "task", "substitution"]
    assert [i.get("task_id") for i in saved.items[:2]] == [t1, t2]
    assert read(db, lambda s: s.scalar(select(User.is_active).where(User.username == "ayrilan.a"))) is False
    # The tutanak: a real PDF, its hash audited.
    assert saved.pdf.startswith(b"%PDF") and hashlib.sha256(saved.pdf).hexdigest() == saved.pdf_sha256
    event = read(db, lambda s: s.scalars(select(AuditEvent).where(AuditEvent.action == "handover.completed")).one())
    assert event.details["pdf_sha256"] == saved.pdf_sha256 and event.details["tasks"] == 2
    moved = read(db, lambda s: s.scalars(select(AuditEvent).where(AuditEvent.action == "task.assigned")).all())
    assert {e.task_id for e in moved if e.details.get("handover") == record.id} == {t1, t2}


def test_tutanak_escapes_user_text_and_keeps_turkish_letters(db):
    deploy(db, "coklu_grup.bpmn")
    make_user(db, "ayrilan.b", ["zabita"], full_name="<i>Irmak</i> Işıkçı")
    task_for(db, "ayrilan.b", "zabita", "H-3")
    record = act(
        db,
        "zabita.mudur",
        lambda s, a: handover.handover(s, a, "ayrilan.b", "zabita.memur", "nakil_atama", LAST_DAY, note="<script>x"),
    )

    def html(s):
        stored = s.get(Handover, record.id)
        leaving, successor = people.get_user(s, "ayrilan.b"), people.get_user(s, "zabita.memur")
        return handover.tutanak_html(stored, leaving, successor)

    text = read(db, html)
    assert "DEVİR TESLİM TUTANAĞI" in text and "Nakil / atama" in text and "31.12.2026" in text
    assert "&lt;script&gt;x" in text and "<script>" not in text
    assert "&lt;i&gt;Irmak&lt;/i&gt; Işıkçı" in text and "<i>" not in text
    name, pdf = act(db, "zabita.mudur", lambda s, a: handover.tutanak(s, a, record.id))
    assert name == f"devir-teslim-{record.id}-ayrilan.b.pdf" and pdf.startswith(b"%PDF")
    assert set("İıĞğÖöÜüçş") <= pdf_characters(pdf)  # real Turkish glyphs, not boxes or ASCII stand-ins
    # The successor may read it; an unrelated clerk may not even learn it exists.
    assert act(db, "zabita.memur", lambda s, a: handover.tutanak(s, a, record.id))[1] == pdf
    with pytest.raises(NotFound):
        act(db, "idari2", lambda s, a: handover.tutanak(s, a, record.id))


def test_a_task_the_successor_may_not_do_stops_the_whole_handover(db):
    deploy(db, "coklu_grup.bpmn")
    make_user(db, "ayrilan.c", ["zabita", "fen_isleri"])
    zabita_task = task_for(db, "ayrilan.c", "zabita", "H-4")
    fen_task = task_for(db, "ayrilan.c", "fen_isleri", "H-5")
    with pytest.raises(NotAllowed) as err:
        act(db, "admin", lambda s, a: handover.handover(s, a, "ayrilan.c", "zabita.memur", "istifa", LAST_DAY))
    assert f"Görev {fen_task}" in str(err.value) and "hiçbir şey değiştirilmedi" in str(err.value)
    assert read(db, lambda s: s.get(HumanTask, zabita_task).assignee) == "ayrilan.c"
    assert read(db, lambda s: s.scalar(select(func.count(Handover.id)))) == 0


def test_a_user_with_open_work_cannot_be_deactivated_until_handed_over(db):
    deploy(db, "coklu_grup.bpmn")
    make_user(db, "ayrilan.d", ["zabita"])
    task_for(db, "ayrilan.d", "zabita", "H-6")
    with pytest.raises(Conflict) as err:
        act(db, "zabita.mudur", lambda s, a: handover.deactivate_user(s, a, "ayrilan.d"))
    assert "Devir teslim tamamlanmadan görevden ayrılma işlemi yapılamaz" in str(err.value)
    assert read(db, lambda s: people.get_user(s, "ayrilan.d").is_active)
    work = act(db, "zabita.mudur", lambda s, a: handover.inventory(s, a, "ayrilan.d"))
    assert work.task_count == 1 and [t.business_key for t in work.first_tasks] == ["H-6"]
    act(db, "zabita.mudur", lambda s, a: handover.handover(s, a, "ayrilan.d", "zabita.memur", "istifa", LAST_DAY))
    act(db, "zabita.mudur", lambda s, a: handover.deactivate_user(s, a, "ayrilan.d"))
    assert not read(db, lambda s: people.get_user(s, "ayrilan.d").is_active)
    events = read(db, lambda s: s.scalars(select(AuditEvent.action).where(AuditEvent.action == "user.deactivated")))
    assert list(events) == ["user.deactivated"]


def test_handover_refuses_bad_input_and_strangers(db):
    make_user(db, "ayrilan.e", ["zabita"])

    def hand(username, successor="zabita.memur", reason="istifa", last_day=LAST_DAY, who="zabita.mudur"):
        return act(db, who, lambda s, a: handover.handover(s, a, username, successor, reason, last_day))

    cases = [
        (("ayrilan.e", "ayrilan.e"), "successor"),
        (("ayrilan.e", "yok.boyle"), "successor"),
        (("ayrilan.e", "zabita.memur", "tatil"), "reason"),
        (("ayrilan.e", "zabita.memur", "istifa", None), "last_day"),
    ]
    for args, field in cases:
        with pytest.raises(InvalidInput) as err:
            hand(*args)
        assert field in err.value.field_errors
    for stranger in ("zabita.memur", "fenisleri.mudur"):
        with pytest.raises(NotAllowed):
            hand("ayrilan.e", who=stranger)
    assert read(db, lambda s: s.scalar(select(func.count(Handover.id)))) == 0


def test_an_empty_handover_is_recorded_and_listed(db):
    make_user(db, "ayrilan.f", ["zabita"])
    record = act(
        db, "zabita.mudur", lambda s, a: handover.handover(s, a, "ayrilan.f", "zabita.memur", "olum", LAST_DAY)
    )
    assert record.items == [] and record.pdf.startswith(b"%PDF")
    listed = act(db, "zabita.mudur", lambda s, a: [r.id for r in handover.list_visible(s, a).rows])
    assert listed == [record.id]
    assert act(db, "idari1", lambda s, a: handover.list_visible(s, a).total) == 0
