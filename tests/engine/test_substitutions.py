"""Vekalet: defining (F12 validation), revoking and listing; what a substitute does is recorded as
"X adına Y"."""

from __future__ import annotations

from datetime import timedelta

import pytest
from factories import act, deploy, open_tasks, read, start
from sqlalchemy import select

from engine import audit_query, clock, handover, people, substitutions, tasks
from engine.errors import Conflict, InvalidInput, NotAllowed, NotFound
from engine.models import AuditEvent, Group, Substitution

DAY = timedelta(days=1)


def define(db, principal="idari1", substitute="hi1", start_in=-DAY, end_in=5 * DAY, who="ok.mudur", **kwargs):
    now = clock.now()
    kwargs.setdefault("reason", "yillik_izin")
    return act(
        db,
        who,
        lambda s, a: substitutions.define(s, a, principal, substitute, now + start_in, now + end_in, **kwargs).id,
    )


def test_a_defined_vekalet_lets_the_substitute_act_and_is_audited(db):
    deploy(db, "coklu_grup.bpmn")
    start(db, "coklu_grup", username="admin", data={"gruplar": "idari_isler", "son_tarih": None, "oncelik": 50})
    assert open_tasks(db, "hi1") == []
    sub_id = define(db, note="İzin formu 2026/14")
    [task] = open_tasks(db, "hi1")
    act(db, "hi1", lambda s, a: tasks.complete(s, a, task["id"], {}))
    event = read(db, lambda s: s.scalars(select(AuditEvent).where(AuditEvent.action == "task.completed")).one())
    assert (event.actor, event.on_behalf_of) == ("hi1", "idari1")
    # Shown everywhere as "X adına Y".
    assert substitutions.behalf_label(event.actor, event.on_behalf_of) == "idari1 adına hi1"
    page = act(db, "denetci1", lambda s, a: audit_query.search(s, a, audit_query.Filter(action="task.completed")))
    assert [r.who for r in page.rows] == ["idari1 adına hi1"]
    defined = read(db, lambda s: s.scalars(select(AuditEvent).where(AuditEvent.action == "substitution.defined")).one())
    assert defined.actor == "ok.mudur" and defined.details["id"] == sub_id
    assert (defined.details["principal"], defined.details["substitute"]) == ("idari1", "hi1")


def test_overlapping_vekalet_for_the_same_principal_and_scope_is_refused(db):
    deploy(db, "coklu_grup.bpmn")
    deploy(db)
    define(db, process_keys=["coklu_grup"])
    # Another process, same period: a different scope, allowed.
    define(db, substitute="hi2", process_keys=["test_havale"])
    for kwargs in ({"process_keys": ["coklu_grup"]}, {}):  # same scope; "all" overlaps every scope
        with pytest.raises(Conflict) as err:
            define(db, substitute="sekreter1", start_in=2 * DAY, end_in=9 * DAY, **kwargs)
        assert err.value.code == "overlapping_substitution" and "idari1" in str(err.value)
    # After the first ends, the same scope is free again.
    define(db, substitute="sekreter1", start_in=6 * DAY, end_in=9 * DAY, process_keys=["coklu_grup"])
    assert read(db, lambda s: len(s.scalars(select(Substitution)).all())) == 3


def test_chained_vekalet_is_refused(db):
    define(db, principal="idari2", substitute="hi2")  # idari2 is away
    with pytest.raises(Conflict) as err:
        define(db, principal="idari1", substitute="idari2")
    assert err.value.code == "chained_substitution"


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"substitute": "idari1"}, "substitute"),
        ({"substitute": "yok.boyle"}, "substitute"),
        ({"start_in": 3 * DAY, "end_in": 2 * DAY}, "ends_at"),
        ({"start_in": -3 * DAY, "end_in": -DAY}, "ends_at"),
        ({"reason": "keyif"}, "reason"),
        ({"reason": "diger"}, "note"),
        ({"process_keys": ["olmayan_surec"]}, "process_keys"),
    ],
)
def test_invalid_vekalet_is_refused_with_the_field_named(db, kwargs, field):
    with pytest.raises(InvalidInput) as err:
        define(db, **kwargs)
    assert field in err.value.field_errors
    assert read(db, lambda s: s.scalars(select(Substitution)).all()) == []


def test_an_inactive_substitute_is_refused(db):
    def create(s, _a):
        user = people.ensure_user(s, "pasif.vekil", "Pasif Vekil")
        people.set_membership(s, user, s.scalar(select(Group).where(Group.code == "idari_isler")))

    act(db, None, create)
    act(db, "ok.mudur", lambda s, a: handover.deactivate_user(s, a, "pasif.vekil"))
    with pytest.raises(InvalidInput) as err:
        define(db, substitute="pasif.vekil")
    assert "substitute" in err.value.field_errors


def test_only_the_principals_superior_or_an_administrator_defines_vekalet(db):
    for who in ("idari1", "zabita.mudur", "denetci1"):
        with pytest.raises(NotAllowed):
            define(db, who=who)
    define(db, who="admin")


def test_revoke_ends_the_substitutes_access(db):
    deploy(db, "coklu_grup.bpmn")
    start(db, "coklu_grup", username="admin", data={"gruplar": "idari_isler", "son_tarih": None, "oncelik": 50})
    sub_id = define(db)
    assert len(open_tasks(db, "hi1")) == 1
    with pytest.raises(NotAllowed):
        act(db, "hi1", lambda s, a: substitutions.revoke(s, a, sub_id))
    act(db, "ok.mudur", lambda s, a: substitutions.revoke(s, a, sub_id))
    assert open_tasks(db, "hi1") == []
    with pytest.raises(Conflict):
        act(db, "ok.mudur", lambda s, a: substitutions.revoke(s, a, sub_id))
    with pytest.raises(NotFound):
        act(db, "ok.mudur", lambda s, a: substitutions.revoke(s, a, 9999))
    actions = read(db, lambda s: list(s.scalars(select(AuditEvent.action).order_by(AuditEvent.seq))))
    assert actions[-2:] == ["substitution.defined", "substitution.revoked"]


def test_listing_shows_each_viewer_the_vekalets_they_may_see(db):
    current = define(db)
    upcoming = define(db, principal="idari2", substitute="hi2", start_in=2 * DAY, end_in=4 * DAY)

    def listed(username, **kwargs):
        page = act(db, username, lambda s, a: substitutions.list_visible(s, a, **kwargs))
        return {r.substitution.id: (r.status, r.can_revoke) for r in page.rows}

    assert listed("ok.mudur") == {
        current: (substitutions.Status.ACTIVE, True),
        upcoming: (substitutions.Status.UPCOMING, True),
    }
    assert listed("hi1") == {current: (substitutions.Status.ACTIVE, False)}
    assert listed("zabita.mudur") == {}
    act(db, "ok.mudur", lambda s, a: substitutions.revoke(s, a, upcoming))
    assert listed("ok.mudur", current_only=True) == {current: (substitutions.Status.ACTIVE, True)}
    assert listed("admin")[upcoming] == (substitutions.Status.REVOKED, False)
