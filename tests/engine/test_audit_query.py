"""Reading the audit trail: who may, filters, keyset pages, per-case timelines, masked CSV/XLSX exports
(read in batches) and the chain status."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from factories import act, deploy, only_task, read, start
from openpyxl import load_workbook
from sqlalchemy import func, select, text

from engine import audit_query, calendar, clock, people, tasks
from engine.audit_query import Filter
from engine.errors import InvalidInput, NotAllowed, NotFound
from engine.models import AuditEvent

TCKN = "10000000146"
MASKED_TCKN = "100******46"


@pytest.fixture
def case(db):
    """A registered petition routed to Zabıta, with the applicant's TCKN in the completion data."""
    deploy(db)
    instance_id = start(db, business_key="DLK-1")
    task = only_task(db, "idari1", "Task_kayit")
    data = {"konu": "Kaldırım", "karar": "havale", "hedef_mudurluk": "zabita", "basvuran_tckn": TCKN}
    act(db, "idari1", lambda s, a: tasks.complete(s, a, task["id"], data))
    return instance_id


def search(db, username, **kwargs):
    before = kwargs.pop("before_seq", None)
    limit = kwargs.pop("limit", 50)
    return act(db, username, lambda s, a: audit_query.search(s, a, Filter(**kwargs), before_seq=before, limit=limit))


def completed_tckn(page):
    [row] = [r for r in page.rows if r.action == "task.completed"]
    return row.details["data"]["basvuran_tckn"]


def test_auditors_see_personal_data_masked_and_ozel_kalem_unmasked(db, case):
    assert completed_tckn(search(db, "denetci1", instance_id=case)) == MASKED_TCKN
    assert completed_tckn(search(db, "admin", instance_id=case)) == MASKED_TCKN
    assert completed_tckn(search(db, "kvkk1", instance_id=case)) == TCKN
    assert completed_tckn(search(db, "ok.mudur", instance_id=case)) == TCKN


def test_only_auditors_kvkk_managers_and_administrators_read_the_trail(db, case):
    for clerk in ("idari1", "zabita.memur"):
        with pytest.raises(NotAllowed):
            search(db, clerk)
    # A manager reads only the cases offered to their groups (and their own actions).
    assert {r.instance_id for r in search(db, "zabita.mudur").rows} == {case}
    assert search(db, "fenisleri.mudur").rows == []
    with pytest.raises(NotFound):
        act(db, "fenisleri.mudur", lambda s, a: audit_query.timeline(s, a, case))
    assert completed_tckn(search(db, "zabita.mudur", instance_id=case)) == MASKED_TCKN


def test_filters_by_person_action_business_key_and_dates(db, case):
    rows = search(db, "denetci1", person="idari1").rows
    assert rows and all("idari1" in (r.actor, r.on_behalf_of) for r in rows)
    assert [r.action for r in search(db, "denetci1", action="task.completed").rows] == ["task.completed"]
    family = search(db, "denetci1", action="task.").rows
    assert {r.action for r in family} == {"task.created", "task.completed"}
    assert {r.instance_id for r in search(db, "denetci1", business_key="DLK-1").rows} == {case}
    assert search(db, "denetci1", business_key="YOK-1").rows == []
    today = calendar.default_calendar().today()
    assert len(search(db, "denetci1", date_from=today, date_to=today).rows) == len(search(db, "denetci1").rows)
    assert search(db, "denetci1", date_to=today - timedelta(days=1)).rows == []
    assert search(db, "denetci1", date_from=today + timedelta(days=1)).rows == []


def test_pages_are_keyset_pages_newest_first(db, case):
    everything = [r.seq for r in search(db, "denetci1", limit=200).rows]
    assert everything == sorted(everything, reverse=True) and len(everything) >= 5
    first = search(db, "denetci1", limit=2)
    second = search(db, "denetci1", limit=2, before_seq=first.next_before)
    assert [r.seq for r in first.rows + second.rows] == everything[:4]
    last = search(db, "denetci1", limit=200)
    assert last.next_before is None


def test_filter_parsing_names_each_bad_field(db):
    good = Filter.parse({"instance": "12", "date_from": "01.11.2026", "date_to": "2026-11-30", "action": "task."})
    assert (good.instance_id, good.date_from.isoformat(), good.date_to.isoformat()) == (12, "2026-11-01", "2026-11-30")
    assert Filter.parse(good.params()) == good
    with pytest.raises(InvalidInput) as err:
        Filter.parse({"instance": "abc", "date_from": "31.02.2026", "date_to": "dün"})
    assert set(err.value.field_errors) == {"instance", "date_from", "date_to"}
    with pytest.raises(InvalidInput) as err:
        Filter.parse({"date_from": "2026-11-30", "date_to": "2026-11-01"})
    assert set(err.value.field_errors) == {"date_to"}


def test_timeline_lists_a_case_in_order_with_who_did_what(db, case):
    line = act(db, "denetci1", lambda s, a: audit_query.timeline(s, a, case))
    assert line.instance.business_key == "DLK-1" and not line.truncated
    actions = [r.action for r in line.rows]
    assert actions[:2] == ["instance.started", "task.created"] and "task.completed" in actions
    assert [r.seq for r in line.rows] == sorted(r.seq for r in line.rows)
    done = line.rows[actions.index("task.completed")]
    assert done.who == "idari1" and done.action_label == "Görev tamamlandı"
    assert done.details["data"]["basvuran_tckn"] == MASKED_TCKN
    with pytest.raises(NotFound):
        act(db, "denetci1", lambda s, a: audit_query.timeline(s, a, 9999))


def test_csv_export_is_masked_batched_and_safe_for_spreadsheets(db, case):
    filt = Filter(instance_id=case)
    chunks = act(db, "denetci1", lambda s, a: list(audit_query.iter_csv(s, a, filt)))
    assert chunks[0].startswith("\ufeffSıra,")
    rows = list(csv.reader(io.StringIO("".join(chunks).lstrip("\ufeff"))))
    assert rows[0] == audit_query.EXPORT_HEADER
    expected = read(db, lambda s: s.scalar(select(func.count(AuditEvent.id)).where(AuditEvent.instance_id == case)))
    assert len(rows) - 1 == expected
    body = "".join(chunks)
    assert MASKED_TCKN in body and TCKN not in body
    # Batches of two rows give the same rows, in order.
    small = act(db, "denetci1", lambda s, a: list(audit_query.export_rows(s, a, filt, batch=2)))
    assert [r[0] for r in small] == [int(r[0]) for r in rows[1:]]
    assert audit_query._cell("=HYPERLINK(1)") == "'=HYPERLINK(1)" and audit_query._cell("-1") == "'-1"
    # The KVKK officer's export is the unmasked one.
    kvkk = "".join(act(db, "kvkk1", lambda s, a: list(audit_query.iter_csv(s, a, filt))))
    assert TCKN in kvkk


def test_xlsx_export_has_the_same_masked_rows(db, case):
    out = io.BytesIO()
    count = act(db, "ok.mudur", lambda s, a: audit_query.write_xlsx(s, a, Filter(instance_id=case), out))
    sheet = load_workbook(io.BytesIO(out.getvalue()), read_only=True)["Denetim izi"]
    values = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert values[0] == audit_query.EXPORT_HEADER and len(values) == count + 1
    flat = " ".join(str(v) for row in values for v in row)
    # Özel Kalem's Müdür sees the TCKN on screen, but a bulk export stays masked without the KVKK role.
    assert MASKED_TCKN in flat and TCKN not in flat


def test_exports_are_themselves_audited(db, case):
    filt = Filter(instance_id=case, action="task.")
    unmasked = act(db, "denetci1", lambda s, a: audit_query.record_export(s, a, filt, "csv"))
    assert unmasked is False
    assert act(db, "kvkk1", lambda s, a: audit_query.record_export(s, a, filt, "xlsx")) is True
    events = read(db, lambda s: s.scalars(select(AuditEvent).where(AuditEvent.action == "audit.exported")).all())
    assert [(e.actor, e.details["masked"], e.details["format"]) for e in events] == [
        ("denetci1", True, "csv"),
        ("kvkk1", False, "xlsx"),
    ]
    assert events[0].details["filter"] == {"instance": str(case), "action": "task."}
    with pytest.raises(InvalidInput):
        act(db, "denetci1", lambda s, a: audit_query.record_export(s, a, filt, "pdf"))
    with pytest.raises(NotAllowed):
        act(db, "idari1", lambda s, a: audit_query.record_export(s, a, filt, "csv"))


def test_chain_status_is_verified_recorded_and_reports_tampering(db, case):
    assert act(db, "denetci1", audit_query.last_verification) is None
    actor = read(db, lambda s: people.actor_for(s, "denetci1"))
    status = audit_query.check_chain(db, actor)
    assert status.ok and status.count >= 5 and status.checked_by == "denetci1"
    last = act(db, "denetci1", audit_query.last_verification)
    assert (last.ok, last.count, last.checked_by) == (True, status.count, "denetci1")
    with db.write_engine.begin() as conn:
        conn.execute(text("UPDATE audit_event SET actor = 'sahte' WHERE seq = 2"))
    broken = audit_query.check_chain(db, actor)
    assert not broken.ok and broken.bad_seq == 2
    assert not act(db, "denetci1", audit_query.last_verification).ok
    with pytest.raises(NotAllowed):
        audit_query.check_chain(db, read(db, lambda s: people.actor_for(s, "idari1")))


def test_substitute_actions_match_a_person_filter_on_either_side(db, case):
    now = clock.now()
    act(
        db,
        "admin",
        lambda s, a: people.add_substitution(
            s, a, "zabita.memur", "hi1", now - timedelta(hours=1), now + timedelta(days=1)
        ),
    )
    task = only_task(db, "hi1", "Task_cevap")
    act(db, "hi1", lambda s, a: tasks.claim(s, a, task["id"]))
    for person in ("hi1", "zabita.memur"):
        rows = search(db, "denetci1", person=person, action="task.claimed").rows
        assert [r.who for r in rows] == ["zabita.memur adına hi1"]
