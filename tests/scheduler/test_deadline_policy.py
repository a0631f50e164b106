"""The deadline policy on a real database: a 4982 application left untouched produces, at the
right business-day instants, the reminders, the manager notifications, the extension task and the
overdue flag — each exactly once — by time travel (the job is called directly, nothing sleeps)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from factories import act, read
from sqlalchemy import func, select

from engine import audit, clock, deadlines, instances, outbox, people, tasks, worklist
from engine.errors import InvalidInput, NotAllowed
from engine.models import AuditEvent, HumanTask, Notification, TaskState
from engine.models.scheduling import DeadlineStep, DeadlineWatch
from scheduler.support import deploy_here, ist

RECEIVED = "2026-05-15 10:00"  # Fri; 4982 legal due: Thu 2026-06-11 17:30 (domain guide §4.3)


def start_4982(db, *, at: str = RECEIVED, key: str = "BE-2026-1") -> int:
    with clock.frozen_at(ist(at)):
        return act(
            db,
            "hi1",
            lambda s, a: (
                instances.start(
                    s, a, "bilgi_edinme_sure", business_key=key, data={"kanun": "4982", "basvuru_tarihi": "2026-05-15"}
                ).id
            ),
        )


def steps(db) -> set[tuple[str, str, str]]:
    """(scope, bpmn id of the task or '-', step) of every applied step."""

    def q(s):
        rows = s.execute(
            select(DeadlineStep.key, DeadlineStep.step, DeadlineStep.outcome, HumanTask.bpmn_id).outerjoin(
                HumanTask, HumanTask.id == DeadlineStep.task_id
            )
        ).all()
        return {(r.key[0], r.bpmn_id or "-", r.step, r.outcome) for r in rows}

    return read(db, q)


def mails(db, subject_part: str) -> set[str]:
    return set(
        read(
            db,
            lambda s: s.scalars(
                select(Notification.recipient).where(
                    Notification.channel == "email", Notification.subject.contains(subject_part)
                )
            ).all(),
        )
    )


def run_at(db, text: str) -> deadlines.DeadlineReport:
    report = deadlines.run(db, ist(text))
    assert report.failed == {}
    return report


def set_policy(db, **settings):
    act(db, "admin", lambda s, a: deadlines.set_policy(s, a, "bilgi_edinme_sure", settings))


@pytest.fixture
def case_4982(db):
    deploy_here(db, "bilgi_edinme_sure.bpmn")
    set_policy(db, intake_tasks=["Task_havale"])
    return start_4982(db)


def test_untouched_4982_application_climbs_the_ladder_at_business_day_instants(db, case_4982):
    # (instant, steps applied then, a subject that must be mailed then, its recipients)
    ladder = [
        ("2026-05-18 10:00", {("t", "Task_havale", "hatirlatma")}, "Hatırlatma: 'Başvuruyu havale et' işi bekliyor"),
        # 19 May is a holiday: the second business day after receipt is Wed 20 May.
        ("2026-05-20 10:00", {("t", "Task_havale", "hatirlatma_yonetici")}, "Gecikme: 'Başvuruyu havale et'"),
        # Half of the 138 working hours to Thu 11 June 17:30 (Kurban Bayramı and its eve counted out).
        ("2026-06-02 11:30", {("t", "Task_havale", "yuzde_50")}, "süresinin yarısı doldu"),
        ("2026-06-08 10:00", {("t", "Task_havale", "yuzde_75")}, "süresinin %75'i doldu"),
        # Legal due − 2 business days: Tue 9 June after hours, i.e. Wed 10 June at the start of work.
        (
            "2026-06-10 08:30",
            {("t", "Task_havale", "son_2_gun"), ("c", "-", "son_2_gun")},
            "Yasal süre dolmak üzere: BE-2026-1",
        ),
        ("2026-06-11 17:30", {("t", "Task_havale", "gecikti"), ("c", "-", "gecikti")}, "Yasal süre aşıldı: BE-2026-1"),
    ]
    assert run_at(db, RECEIVED).applied == []
    seen: set[tuple[str, str, str]] = set()
    for instant, expected, subject in ladder:
        run_at(db, (ist(instant) - timedelta(minutes=1)).strftime("%Y-%m-%d %H:%M"))
        before = {s[:3] for s in steps(db) if s[3] == "applied"}
        assert before - seen <= {("t", "Task_uzatma", s) for s in deadlines.LEVELS}, f"early step before {instant}"
        assert not mails(db, subject), f"'{subject}' mailed before {instant}"
        run_at(db, instant)
        now = {s[:3] for s in steps(db) if s[3] == "applied"}
        assert expected <= now, (instant, now - seen)
        assert mails(db, subject), f"'{subject}' not mailed at {instant}"
        seen = now

    # Reminders went to the intake group, then also to the Şef and the Müdür.
    assert mails(db, "Hatırlatma: 'Başvuruyu havale et'") == {
        "hi1@kalem.local",
        "hi2@kalem.local",
        "ok.mudur@kalem.local",
    }
    assert {"ok.sef@kalem.local", "ok.sef2@kalem.local"} <= mails(db, "Gecikme: 'Başvuruyu havale et'")
    # 75 %: the managers of the task's group and the Özel Kalem Şef, not the clerks.
    assert mails(db, "%75'i doldu") == {"ok.mudur@kalem.local", "ok.sef@kalem.local", "ok.sef2@kalem.local"}
    # The extension task was opened in Özel Kalem by the BPMN message, at the red step.
    uzatma = read(db, lambda s: s.scalars(select(HumanTask).where(HumanTask.bpmn_id == "Task_uzatma")).all())
    assert len(uzatma) == 1 and uzatma[0].created_at == ist("2026-06-10 08:30")
    assert uzatma[0].candidate_groups == ["ozel_kalem_muduru"]
    # Overdue: flagged, never closed; the Başkan Yardımcısı group and the ÖK Müdürü are told.
    havale = read(db, lambda s: s.scalars(select(HumanTask).where(HumanTask.bpmn_id == "Task_havale")).one())
    assert havale.state == TaskState.OPEN and havale.escalation_level == deadlines.LEVELS["gecikti"]
    assert {"by.kaya@kalem.local", "by.demir@kalem.local", "ok.mudur@kalem.local"} <= mails(db, "Yasal süre aşıldı")
    report = read(db, lambda s: deadlines.overdue_cases(s))
    assert [r["business_key"] for r in report] == ["BE-2026-1"]
    # Visible on the task, in the audit trail, and the chain holds.
    shown = read(db, lambda s: deadlines.applied_steps(s, havale))
    assert [(e.scope, e.step) for e in shown][-2:] in (
        [("task", "gecikti"), ("case", "gecikti")],
        [("case", "gecikti"), ("task", "gecikti")],
    )
    actions = read(db, lambda s: s.scalars(select(AuditEvent.action).where(AuditEvent.action.like("deadline.%"))).all())
    assert {"deadline.hatirlatma", "deadline.yuzde_75", "deadline.gecikti", "deadline.case_son_2_gun"} <= set(actions)
    assert read(db, audit.verify).ok


def test_each_step_is_applied_exactly_once(db, case_4982):
    for instant in ("2026-05-18 10:00", "2026-06-10 08:30", "2026-06-12 09:00"):
        run_at(db, instant)
    rows, mail_count = (
        read(db, lambda s: s.scalar(select(func.count(DeadlineStep.id)))),
        read(db, lambda s: s.scalar(select(func.count(Notification.id)))),
    )
    for instant in ("2026-05-18 10:00", "2026-06-10 08:30", "2026-06-12 09:00", "2026-07-01 09:00"):
        assert run_at(db, instant).applied == []
    assert read(db, lambda s: s.scalar(select(func.count(DeadlineStep.id)))) == rows
    assert read(db, lambda s: s.scalar(select(func.count(Notification.id)))) == mail_count
    # Nothing is left to watch once every step is done: the table does not grow with old cases.
    assert read(db, lambda s: s.scalar(select(func.count(DeadlineWatch.id)))) == 0


def test_steps_missed_while_the_scheduler_was_down_are_superseded_not_mailed(db, case_4982):
    run_at(db, "2026-06-09 09:00")  # first run after three weeks
    got = steps(db)
    assert ("t", "Task_havale", "hatirlatma", "superseded") in got
    assert ("t", "Task_havale", "hatirlatma_yonetici", "applied") in got
    assert ("t", "Task_havale", "yuzde_50", "superseded") in got
    assert ("t", "Task_havale", "yuzde_75", "applied") in got
    assert not mails(db, "yarısı doldu") and not mails(db, "Hatırlatma:")
    assert mails(db, "%75'i doldu")


def test_a_completed_task_is_no_longer_chased(db, case_4982):
    run_at(db, "2026-05-18 10:00")
    task_id = read(db, lambda s: s.scalar(select(HumanTask.id).where(HumanTask.bpmn_id == "Task_havale")))
    with clock.frozen_at(ist("2026-05-18 11:00")):
        act(db, "hi1", lambda s, a: tasks.complete(s, a, task_id, {}))
    run_at(db, "2026-05-25 10:00")
    assert ("t", "Task_havale", "hatirlatma_yonetici") not in {s[:3] for s in steps(db)}
    assert read(db, lambda s: s.scalar(select(DeadlineWatch.id).where(DeadlineWatch.key == f"t:{task_id}"))) is None


def test_a_terminated_case_stops_its_ladder(db, case_4982):
    run_at(db, "2026-05-18 10:00")
    with clock.frozen_at(ist("2026-05-18 12:00")):
        act(db, "ok.mudur", lambda s, a: instances.terminate(s, a, case_4982))
    run_at(db, "2026-06-12 09:00")
    assert {s[2] for s in steps(db)} == {"hatirlatma"}
    assert read(db, lambda s: deadlines.overdue_cases(s)) == []


def test_bpmn_escalation_wins_over_the_policy(db):
    deploy_here(db, "sure_paralel.bpmn")
    with clock.frozen_at(ist("2026-06-01 09:00")):
        act(db, "idari1", lambda s, a: instances.start(s, a, "sure_paralel", data={"son_tarih": "2026-06-05"}))
    run_at(db, "2026-06-08 09:00")
    got = steps(db)
    assert ("t", "Task_sla", "gecikti", "applied") in got
    assert not [s for s in got if s[1] == "Task_bpmn"]  # its own boundary timer escalates it
    # Its colour still follows the same rule as every task's.
    task = read(db, lambda s: s.scalars(select(HumanTask).where(HumanTask.bpmn_id == "Task_bpmn")).one())
    assert worklist.status_of(task.created_at, task.due_at, worklist.thresholds(ist("2026-06-08 09:00"))) == "overdue"


def test_policy_is_configurable_per_process_and_guarded(db):
    deploy_here(db, "sure_paralel.bpmn", "bilgi_edinme_sure.bpmn")
    with pytest.raises(NotAllowed):
        act(db, "idari1", lambda s, a: deadlines.set_policy(s, a, "sure_paralel", {"enabled": False}))
    with pytest.raises(InvalidInput):
        act(db, "admin", lambda s, a: deadlines.set_policy(s, a, "sure_paralel", {"escalate": 0.4}))
    with pytest.raises(InvalidInput):
        act(db, "admin", lambda s, a: deadlines.set_policy(s, a, "sure_paralel", {"yuzde": 0.4}))
    act(db, "tasarimci1", lambda s, a: deadlines.set_policy(s, a, "sure_paralel", {"enabled": False}))
    act(db, "admin", lambda s, a: deadlines.set_policy(s, a, "bilgi_edinme_sure", {"approaching": 0.25}))
    with clock.frozen_at(ist("2026-06-01 09:00")):
        act(db, "idari1", lambda s, a: instances.start(s, a, "sure_paralel", data={"son_tarih": "2026-06-05"}))
    start_4982(db)
    run_at(db, "2026-05-25 09:00")
    got = steps(db)
    assert not [s for s in got if s[1] in ("Task_sla", "Task_bpmn")]
    # 25 % of the 4982 window has passed by Mon 25 May (52.5 of 138 working hours): yellow already.
    assert ("t", "Task_havale", "yuzde_50", "applied") in got
    assert read(db, lambda s: deadlines.policy_for(s, "bilgi_edinme_sure")).approaching == 0.25


def test_preferences_turn_a_channel_off(db, case_4982):
    act(db, "hi1", lambda s, a: outbox.set_preferences(s, a, "hi1", email=False))
    with pytest.raises(NotAllowed):
        act(db, "hi1", lambda s, a: outbox.set_preferences(s, a, "hi2", email=False))
    act(db, None, lambda s, a: people.get_user(s, "hi2").__setattr__("phone", "+905550000002"))
    act(db, "hi2", lambda s, a: outbox.set_preferences(s, a, "hi2", sms=True))
    run_at(db, "2026-05-18 10:00")
    assert "hi1@kalem.local" not in mails(db, "Hatırlatma:") and "hi2@kalem.local" in mails(db, "Hatırlatma:")
    sms = read(db, lambda s: s.scalars(select(Notification.recipient).where(Notification.channel == "sms")).all())
    assert sms == ["+905550000002"]
    shown = read(db, lambda s: s.scalars(select(DeadlineStep.details).where(DeadlineStep.step == "hatirlatma")).one())
    assert "hi1" not in shown["notified"] and "hi2" in shown["notified"]


def test_concurrent_deadline_runs_apply_each_step_once(pg_db):
    deploy_here(pg_db, "bilgi_edinme_sure.bpmn")
    set_policy(pg_db, intake_tasks=["Task_havale"])
    for i in range(20):
        start_4982(pg_db, key=f"BE-{i}")
    run_at(pg_db, RECEIVED)  # the feed: one watch per task and case

    def go(_: int) -> deadlines.DeadlineReport:
        return deadlines.run(pg_db, ist("2026-06-10 08:30"))

    with ThreadPoolExecutor(4) as pool:
        reports = list(pool.map(go, range(4)))
    applied = [a for r in reports for a in r.applied]
    # Per case: the task's intake reminder and red step (earlier ones superseded) and the case's red step.
    assert len(applied) == len(set(applied)) == 60
    assert all(r.failed == {} for r in reports)
    per_step = read(
        pg_db,
        lambda s: s.execute(
            select(DeadlineStep.key, DeadlineStep.step, func.count()).group_by(DeadlineStep.key, DeadlineStep.step)
        ).all(),
    )
    assert {n for _k, _s, n in per_step} == {1}
    assert (
        read(pg_db, lambda s: s.scalar(select(func.count(HumanTask.id)).where(HumanTask.bpmn_id == "Task_uzatma")))
        == 20
    )
    assert read(pg_db, audit.verify).ok


# --- vekalet: the vekil is told too, on whose behalf -------------------------------------------------


def vekalet(db, principal: str, substitute: str, start: str, end: str, keys: tuple[str, ...] = ()) -> None:
    act(
        db,
        "admin",
        lambda s, a: people.add_substitution(s, a, principal, substitute, ist(start), ist(end), process_keys=keys),
    )


def mail_rows(db, subject_part: str) -> list[Notification]:
    return read(
        db,
        lambda s: s.scalars(
            select(Notification).where(Notification.channel == "email", Notification.subject.contains(subject_part))
        ).all(),
    )


def test_a_vekil_gets_the_step_of_the_person_they_stand_in_for_saying_on_whose_behalf(db, case_4982):
    # The reminder at 18 May 10:00 goes to the intake group: hi1, hi2 and ok.mudur (its manager).
    vekalet(db, "hi1", "sekreter1", "2026-05-16 08:00", "2026-05-30 17:30")  # hi1 is on leave
    vekalet(db, "ok.mudur", "sekreter1", "2026-05-16 08:00", "2026-05-30 17:30", ("bilgi_edinme_sure",))
    vekalet(db, "hi2", "ok.mudur", "2026-05-16 08:00", "2026-05-30 17:30")  # notified in their own right anyway
    vekalet(db, "hi2", "sekreter2", "2026-05-16 08:00", "2026-05-30 17:30", ("sure_paralel",))  # another process
    vekalet(db, "hi1", "protokol1", "2026-05-10 08:00", "2026-05-17 17:30")  # already over
    run_at(db, "2026-05-18 10:00")

    sent = mail_rows(db, "Hatırlatma: 'Başvuruyu havale et'")
    by_recipient: dict[str, list[Notification]] = {}
    for row in sent:
        by_recipient.setdefault(row.recipient, []).append(row)
    # The principal away on leave is still told (they stay responsible); nobody gets two messages.
    assert set(by_recipient) == {"hi1@kalem.local", "hi2@kalem.local", "ok.mudur@kalem.local", "sekreter1@kalem.local"}
    assert all(len(rows) == 1 for rows in by_recipient.values())
    # One message to the vekil of two recipients, naming both.
    deputy = by_recipient["sekreter1@kalem.local"][0]
    assert deputy.subject == "Hatırlatma: 'Başvuruyu havale et' işi bekliyor (Burak Güneş, Ayşe Çelik adına)"
    assert deputy.body.startswith("Sayın Gül Erdem,")
    assert "vekili olduğunuz Burak Güneş, Ayşe Çelik adına" in deputy.body
    assert "adına" not in by_recipient["hi1@kalem.local"][0].subject
    assert "vekili olduğunuz" not in by_recipient["ok.mudur@kalem.local"][0].body

    details = read(db, lambda s: s.scalars(select(DeadlineStep.details).where(DeadlineStep.step == "hatirlatma")).one())
    assert details["notified"] == ["hi1", "hi2", "ok.mudur", "sekreter1"]
    assert details["deputies"] == {"sekreter1": ["hi1", "ok.mudur"]}
    logged = read(
        db, lambda s: s.scalars(select(AuditEvent.details).where(AuditEvent.action == "deadline.hatirlatma")).one()
    )
    assert logged["deputies"] == {"sekreter1": ["hi1", "ok.mudur"]} and "sekreter1" in logged["notified"]


# --- a legal due that moves: the 4982 extension ------------------------------------------------------


def test_after_a_4982_extension_the_red_step_and_the_flag_wait_for_the_new_due(db):
    deploy_here(db, "bilgi_edinme_uzatma.bpmn")
    with clock.frozen_at(ist(RECEIVED)):
        case_id = act(
            db,
            "hi1",
            lambda s, a: (
                instances.start(
                    s,
                    a,
                    "bilgi_edinme_uzatma",
                    business_key="BE-UZ-1",
                    data={"kanun": "4982", "basvuru_tarihi": "2026-05-15"},
                ).id
            ),
        )
    run_at(db, RECEIVED)
    hazirla, karar = (
        read(db, lambda s, b=b: s.scalar(select(HumanTask.id).where(HumanTask.bpmn_id == b)))
        for b in ("Task_hazirla", "Task_karar")
    )
    run_at(db, "2026-06-02 11:30")  # 50 % of the 15 iş günü window
    assert ("t", "Task_hazirla", "yuzde_50", "applied") in steps(db)
    half_mails = len(mail_rows(db, "süresinin yarısı doldu"))
    assert half_mails > 0

    # The Müdür extends the period on 3 June: 30 iş günü from receipt, Thu 2 July 17:30 (§4.3).
    with clock.frozen_at(ist("2026-06-03 10:00")):
        act(db, "ok.mudur", lambda s, a: tasks.complete(s, a, karar, {}))
    new_due = ist("2026-07-02 17:30")
    new_red = ist("2026-07-01 08:30")  # due − 2 business days
    assert [s.at for s in deadlines.case_ladder(deadlines.DEFAULT_POLICY, new_due)] == [new_red, new_due]

    # Nothing at the old instants (red: Wed 10 June 08:30; due: Thu 11 June 17:30).
    run_at(db, "2026-06-10 08:30")
    run_at(db, "2026-06-12 09:00")
    assert not {s for s in steps(db) if s[2] in ("son_2_gun", "gecikti")}
    assert not mails(db, "Yasal süre dolmak üzere") and not mails(db, "Yasal süre aşıldı")
    assert read(db, lambda s: deadlines.overdue_cases(s)) == []
    watches = read(db, lambda s: {w.key: (w.due_at, w.next_step) for w in s.scalars(select(DeadlineWatch))})
    assert watches[f"c:{case_id}"] == (new_due, "son_2_gun")
    assert watches[f"t:{hazirla}"][0] == new_due
    replanned = read(
        db, lambda s: s.scalars(select(AuditEvent.details).where(AuditEvent.action == "deadline.replanned")).all()
    )
    assert {d["key"] for d in replanned} == {f"c:{case_id}", f"t:{hazirla}"}

    # The red step comes at the new due − 2 business days, for the case and its open task.
    run_at(db, "2026-07-01 08:29")
    assert not {s for s in steps(db) if s[2] == "son_2_gun"}
    run_at(db, "2026-07-01 08:30")
    red = read(
        db,
        lambda s: {r.key: r.due_at for r in s.scalars(select(DeadlineStep).where(DeadlineStep.step == "son_2_gun"))},
    )
    assert red == {f"c:{case_id}": new_red, f"t:{hazirla}": new_red}
    notices = [r.body for r in mail_rows(db, "Yasal süre dolmak üzere: BE-UZ-1")]
    assert notices and all("02.07.2026 17:30" in body for body in notices)
    run_at(db, new_due.astimezone(ist(RECEIVED).tzinfo).strftime("%Y-%m-%d %H:%M"))
    assert [r["business_key"] for r in read(db, lambda s: deadlines.overdue_cases(s))] == ["BE-UZ-1"]

    # Nothing applied before the extension was repeated: one 50 % step, sent once, at the old instant.
    half = read(
        db,
        lambda s: s.scalars(
            select(DeadlineStep).where(DeadlineStep.key == f"t:{hazirla}", DeadlineStep.step == "yuzde_50")
        ).all(),
    )
    assert [h.due_at for h in half] == [ist("2026-06-02 11:30")]
    assert len(mail_rows(db, "süresinin yarısı doldu")) == half_mails
    per_step = read(
        db,
        lambda s: s.execute(
            select(DeadlineStep.key, DeadlineStep.step, func.count()).group_by(DeadlineStep.key, DeadlineStep.step)
        ).all(),
    )
    assert {n for _k, _s, n in per_step} == {1}
