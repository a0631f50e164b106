"""The ladder's arithmetic without a database: business time, step instants, inbox colours."""

from __future__ import annotations

from datetime import timedelta

import pytest

from engine import calendar, deadlines, worklist
from engine.errors import InvalidInput
from engine.models import HumanTask, TaskState
from scheduler.support import ist

CAL = calendar.default_calendar()


def task(created: str, due: str | None, state: TaskState = TaskState.OPEN) -> HumanTask:
    return HumanTask(created_at=ist(created), due_at=ist(due) if due else None, state=state)


def test_business_time_skips_nights_weekends_holidays_and_the_eve_afternoon():
    # Fri 15 May 10:00 → Thu 11 June 17:30 (4982, received 15 May): 19 May and 27–29 May are
    # holidays, 26 May (arife) is worked until 13:00.
    hours = deadlines.business_seconds(CAL, ist("2026-05-15 10:00"), ist("2026-06-11 17:30")) / 3600
    assert hours == 138
    assert deadlines.business_seconds(CAL, ist("2026-05-26 12:00"), ist("2026-05-29 17:00")) == 3600
    assert deadlines.add_business_seconds(CAL, ist("2026-05-26 12:00"), 2 * 3600) == ist("2026-06-01 09:30")


def test_working_instant_moves_out_of_hours_to_the_next_morning():
    assert deadlines.working_instant(CAL, ist("2026-06-05 17:30")) == ist("2026-06-08 08:30")
    assert deadlines.working_instant(CAL, ist("2026-06-08 07:00")) == ist("2026-06-08 08:30")
    assert deadlines.working_instant(CAL, ist("2026-06-08 12:00")) == ist("2026-06-08 12:00")


def test_task_ladder_of_the_4982_example():
    steps = deadlines.task_ladder(
        deadlines.DEFAULT_POLICY, ist("2026-05-15 10:00"), ist("2026-06-11 17:30"), intake=True
    )
    assert [(s.name, s.at) for s in steps] == [
        ("hatirlatma", ist("2026-05-18 10:00")),
        ("hatirlatma_yonetici", ist("2026-05-20 10:00")),
        ("yuzde_50", ist("2026-06-02 11:30")),
        ("yuzde_75", ist("2026-06-08 10:00")),
        ("son_2_gun", ist("2026-06-10 08:30")),
        ("gecikti", ist("2026-06-11 17:30")),
    ]


def test_a_short_window_keeps_the_steps_in_order():
    steps = deadlines.task_ladder(
        deadlines.DEFAULT_POLICY, ist("2026-06-08 09:00"), ist("2026-06-09 17:30"), intake=False
    )
    instants = [s.at for s in steps]
    assert instants == sorted(instants) and instants[-1] == ist("2026-06-09 17:30")
    # Due − 2 business days is before the start here: the red step comes with the 75 % point.
    assert steps[2].at == steps[1].at


def test_inbox_colour_of_a_task():
    """One definition of the colour (``worklist.status_of``, also the SQL filter), from the policy."""

    def colour(t: HumanTask, now: str) -> str:
        return worklist.status_of(t.created_at, t.due_at, worklist.thresholds(ist(now)))

    two_weeks = task("2026-06-01 08:30", "2026-06-15 17:30")  # 14 days 9 h of calendar time
    assert colour(two_weeks, "2026-06-08 12:59") == "on_time"
    assert colour(two_weeks, "2026-06-08 13:00") == "approaching"  # the policy's 50 % of the window
    # Within the red step's two business days of the due it is approaching whatever the share.
    long_one = task("2026-05-01 08:30", "2026-07-31 17:30")
    red = deadlines.business_days_after(CAL, ist("2026-07-31 17:30"), -2)
    assert red == ist("2026-07-30 08:30")
    assert colour(long_one, "2026-07-29 17:00") == "approaching"  # 50 % passed long ago
    short = task("2026-07-29 08:30", "2026-07-31 17:30")
    assert colour(short, "2026-07-29 08:31") == "on_time"
    assert colour(short, "2026-07-30 08:30") == "approaching"
    assert colour(short, "2026-07-31 17:30") == "approaching" and colour(short, "2026-07-31 17:31") == "overdue"
    assert colour(task("2026-06-01 08:30", None), "2027-01-01 09:00") == "on_time"
    thresholds = worklist.thresholds(ist("2026-06-01 09:00"))
    assert thresholds.elapsed_fraction == deadlines.DEFAULT_POLICY.approaching
    assert thresholds.business_days == deadlines.DEFAULT_POLICY.red_business_days


def test_policy_settings_round_trip_and_validation():
    policy = deadlines.Policy.from_settings(
        {"law": "3071", "intake_tasks": ["Task_havale"], "case_messages": {"3071": "ara_cevap"}, "red_business_days": 3}
    )
    assert policy.case_message("3071") == "ara_cevap" and policy.case_message("4982") is None
    assert deadlines.Policy.from_settings(policy.as_settings()) == policy
    with pytest.raises(InvalidInput) as bad:
        deadlines.Policy.from_settings({"red_business_days": 1.5, "intake_tasks": "Task_havale", "enabled": "evet"})
    assert set(bad.value.field_errors) == {"red_business_days", "intake_tasks", "enabled"}
    assert deadlines.business_days_after(CAL, ist("2026-06-11 17:30"), -2) == ist("2026-06-10 08:30")
    assert deadlines.business_days_after(CAL, ist("2026-06-12 10:00"), 1) - ist("2026-06-15 10:00") == timedelta(0)
