"""Tests of engine.calendar: domain guide §4.2 counting rules and the §4.3 worked examples."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import holidays
import pytest

from engine.calendar import (
    LAWS,
    ArifePolicy,
    BusinessCalendar,
    CalendarError,
    FeePolicy,
    Unit,
    default_calendar,
    expression_helpers,
    fee_resume_days,
)
from engine.clock import frozen_at

IST = ZoneInfo("Europe/Istanbul")
D = date.fromisoformat


def at(day: str, hour: int = 17, minute: int = 30) -> datetime:
    return datetime.combine(D(day), time(hour, minute), tzinfo=IST)


@pytest.fixture(scope="module")
def cal() -> BusinessCalendar:
    return BusinessCalendar()


@pytest.fixture(scope="module")
def next_day_cal() -> BusinessCalendar:
    return BusinessCalendar(arife_policy=ArifePolicy.NEXT_BUSINESS_DAY)


# Domain guide §4.3 worked examples: received -> 15 iş günü, 30 iş günü, 30 calendar days.
WORKED_EXAMPLES = [
    ("2026-03-13", "2026-04-06", "2026-04-28", "2026-04-13"),
    ("2026-05-15", "2026-06-11", "2026-07-02", "2026-06-15"),
    ("2026-05-20", "2026-06-15", "2026-07-06", "2026-06-19"),
    ("2026-10-20", "2026-11-11", "2026-12-02", "2026-11-19"),
    ("2027-02-26", "2027-03-24", "2027-04-14", "2027-03-29"),
    ("2026-12-31", "2027-01-22", "2027-02-12", "2027-02-01"),
]


@pytest.mark.parametrize(("received", "bd15", "bd30", "cd30"), WORKED_EXAMPLES)
def test_worked_examples(cal: BusinessCalendar, received: str, bd15: str, bd30: str, cd30: str) -> None:
    assert cal.legal_deadline("4982", D(received)) == at(bd15)
    assert cal.legal_deadline("4982-uzatma", D(received)) == at(bd30)
    assert cal.legal_deadline("3071", D(received)) == at(cd30)
    assert cal.add_business_days(D(received), 15) == D(bd15)
    assert cal.add_business_days(D(received), 30) == D(bd30)
    assert cal.add_calendar_days(D(received), 30) == D(cd30)


def test_laws_table() -> None:
    assert LAWS["3071"] == (30, "calendar")
    assert LAWS["4982"] == (15, "business")
    assert LAWS["4982-uzatma"] == (30, "business")
    length, unit = LAWS["4982"]
    assert (length, unit) == (15, Unit.BUSINESS)


@pytest.mark.parametrize(
    ("day", "business", "half", "name"),
    [
        ("2026-01-01", False, False, "Yılbaşı"),
        ("2026-03-19", True, True, "Ramazan Bayramı (saat 13.00'ten)"),
        ("2026-03-20", False, False, "Ramazan Bayramı"),
        ("2026-05-26", True, True, "Kurban Bayramı (saat 13.00'ten)"),
        ("2026-10-28", True, True, "Cumhuriyet Bayramı (saat 13.00'ten)"),
        ("2026-10-29", False, False, "Cumhuriyet Bayramı"),
        ("2026-12-31", True, False, None),
        ("2027-03-08", True, True, "Ramazan Bayramı (saat 13.00'ten)"),
        ("2027-05-15", False, True, "Kurban Bayramı (saat 13.00'ten)"),  # eve on a Saturday
        ("2027-05-19", False, False, "Atatürk'ü Anma, Gençlik ve Spor Bayramı; Kurban Bayramı"),
        ("2026-03-16", True, False, None),
        ("2026-03-14", False, False, None),
    ],
)
def test_day_classification(cal: BusinessCalendar, day: str, business: bool, half: bool, name: str | None) -> None:
    assert cal.is_business_day(D(day)) is business
    assert cal.is_half_day(D(day)) is half
    assert cal.holiday_name(D(day)) == name


def test_weekend_holiday_is_not_moved(cal: BusinessCalendar) -> None:
    assert cal.holiday_name(D("2026-08-30")) == "Zafer Bayramı"
    assert D("2026-08-30").weekday() == 6
    assert cal.is_business_day(D("2026-08-31"))
    # 30 days from 2026-07-31 end on Sunday 08-30 and roll to Monday 08-31, not beyond.
    assert cal.legal_deadline("3071", D("2026-07-31")) == at("2026-08-31")


@pytest.mark.parametrize(
    ("law", "received", "default_due", "next_day_due"),
    [
        # 15 iş günü from Mon 2026-05-04 end on the Kurban arife; 05-27..05-30 holiday, 05-31 Sunday.
        ("4982", "2026-05-04", at("2026-05-26", 13, 0), at("2026-06-01")),
        # 30 days from 2026-09-28 end on 28 Ekim; 29 Ekim is a holiday.
        ("3071", "2026-09-28", at("2026-10-28", 13, 0), at("2026-10-30")),
    ],
)
def test_arife_policies(
    cal: BusinessCalendar,
    next_day_cal: BusinessCalendar,
    law: str,
    received: str,
    default_due: datetime,
    next_day_due: datetime,
) -> None:
    assert cal.legal_deadline(law, D(received)) == default_due
    assert next_day_cal.legal_deadline(law, D(received)) == next_day_due


def test_end_of_day_and_custom_hours(cal: BusinessCalendar, next_day_cal: BusinessCalendar) -> None:
    assert cal.end_of_day(D("2026-03-19")) == at("2026-03-19", 13, 0)
    assert cal.end_of_day(D("2026-03-18")) == at("2026-03-18")
    assert next_day_cal.end_of_day(D("2026-03-19")) == at("2026-03-19")
    custom = BusinessCalendar(workday_end=time(18, 0), half_day_end=time(12, 30))
    assert custom.legal_deadline("4982", D("2026-03-13")) == at("2026-04-06", 18, 0)
    assert custom.end_of_day(D("2026-10-28")) == at("2026-10-28", 12, 30)
    assert custom.version != cal.version


def test_closure_day_moves_internal_but_not_legal_deadline() -> None:
    closed = BusinessCalendar(closure_days=[D("2026-04-06")])
    assert closed.is_closure_day(D("2026-04-06"))
    assert closed.is_business_day(D("2026-04-06"))
    assert not closed.is_business_day(D("2026-04-06"), for_internal=True)
    assert closed.legal_deadline("4982", D("2026-03-13")) == at("2026-04-06")
    assert closed.deadline(D("2026-03-13"), 15, "business") == at("2026-04-06")
    assert closed.deadline(D("2026-03-13"), 15, "business", for_internal=True) == at("2026-04-07")
    assert closed.add_business_days(D("2026-03-13"), 15, for_internal=True) == D("2026-04-07")
    # A calendar-day internal SLA ending on the closure day rolls forward.
    assert closed.deadline(D("2026-03-07"), 30, "calendar") == at("2026-04-06")
    assert closed.deadline(D("2026-03-07"), 30, "calendar", for_internal=True) == at("2026-04-07")


def test_extra_holiday_override() -> None:
    extra = BusinessCalendar(extra_holidays={D("2026-04-06"): "Olağanüstü tatil"})
    assert extra.holiday_name(D("2026-04-06")) == "Olağanüstü tatil"
    assert not extra.is_business_day(D("2026-04-06"))
    assert extra.legal_deadline("4982", D("2026-03-13")) == at("2026-04-07")


def test_removed_holiday_override(cal: BusinessCalendar) -> None:
    removed = BusinessCalendar(removed_holidays=[D("2026-04-23"), D("2026-05-26")])
    assert removed.holiday_name(D("2026-04-23")) is None
    assert removed.is_business_day(D("2026-04-23"))
    # 2026-04-23 now counts, so the 30th business day comes one day earlier (Fri 04-24 → Mon 04-27).
    assert removed.legal_deadline("4982-uzatma", D("2026-03-13")) == at("2026-04-27")
    assert cal.legal_deadline("4982-uzatma", D("2026-03-13")) == at("2026-04-28")
    # A removed eve is a normal full working day.
    assert not removed.is_half_day(D("2026-05-26"))
    assert removed.end_of_day(D("2026-05-26")) == at("2026-05-26")


def test_overrides_accept_iso_strings_and_reject_clashes() -> None:
    assert BusinessCalendar(closure_days=["2026-04-06"]).is_closure_day(D("2026-04-06"))  # type: ignore[list-item]
    with pytest.raises(CalendarError, match="hem ek tatil"):
        BusinessCalendar(extra_holidays={D("2026-04-06"): "x"}, removed_holidays=[D("2026-04-06")])


def test_version_identifies_data_and_overrides(cal: BusinessCalendar) -> None:
    assert cal.version.startswith(f"holidays-{holidays.__version__}+")
    assert BusinessCalendar().version == cal.version
    assert default_calendar().version == cal.version
    assert default_calendar() is default_calendar()
    extra = BusinessCalendar(extra_holidays={D("2026-04-06"): "Ek"})
    removed = BusinessCalendar(removed_holidays=[D("2026-04-23")])
    closed_ab = BusinessCalendar(closure_days=[D("2026-04-06"), D("2026-04-07")])
    closed_ba = BusinessCalendar(closure_days=[D("2026-04-07"), D("2026-04-06")])
    policy = BusinessCalendar(arife_policy="next_business_day")
    versions = {cal.version, extra.version, removed.version, closed_ab.version, policy.version}
    assert len(versions) == 5
    assert closed_ab.version == closed_ba.version


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        # Received Fri 03-13; notified Thu 03-19 after 4 business days (16–19); paid Wed 03-25.
        (FeePolicy.RESUME, at("2026-04-09")),  # 11 business days after payment
        (FeePolicy.RESTART, at("2026-04-15")),  # 15 business days after payment
        ("resume", at("2026-04-09")),
    ],
)
def test_fee_interruption(cal: BusinessCalendar, policy: FeePolicy | str, expected: datetime) -> None:
    due = cal.deadline_after_fee("4982", D("2026-03-13"), D("2026-03-19"), D("2026-03-25"), policy)
    assert due == expected


def test_fee_interruption_edges(cal: BusinessCalendar) -> None:
    # Notified after the period ran out: the original deadline stands under RESUME.
    late = cal.deadline_after_fee("4982", D("2026-03-13"), D("2026-04-07"), D("2026-04-08"))
    assert late == cal.legal_deadline("4982", D("2026-03-13"))
    # Default policy is RESUME.
    default = cal.deadline_after_fee("4982", D("2026-03-13"), D("2026-03-19"), D("2026-03-25"))
    assert default == at("2026-04-09")
    with pytest.raises(CalendarError, match="Ücret ödemesi"):
        cal.deadline_after_fee("4982", D("2026-03-13"), D("2026-03-19"), D("2026-03-18"))
    with pytest.raises(CalendarError, match="Ücret bildirimi"):
        cal.deadline_after_fee("4982", D("2026-03-13"), D("2026-03-12"), D("2026-03-18"))
    assert fee_resume_days(15, 4) == 11
    assert fee_resume_days(15, 20) == 0
    assert fee_resume_days(15, 4, FeePolicy.RESTART) == 15


@pytest.mark.parametrize("law", ["5393", "", "4982 "])
def test_unknown_law(cal: BusinessCalendar, law: str) -> None:
    with pytest.raises(ValueError, match="Bilinmeyen kanun kodu"):
        cal.legal_deadline(law, D("2026-03-13"))


@pytest.mark.parametrize(("n", "unit"), [(15, "weeks"), (-1, "business"), ("on beş", "business")])
def test_invalid_period(cal: BusinessCalendar, n: object, unit: str) -> None:
    with pytest.raises(ValueError):
        cal.deadline(D("2026-03-13"), n, unit)  # type: ignore[arg-type]


def test_business_days_between_and_backwards(cal: BusinessCalendar) -> None:
    start = D("2026-03-13")
    for n in (0, 1, 4, 15, 30):
        assert cal.business_days_between(start, cal.add_business_days(start, n)) == n
    assert cal.business_days_between(D("2026-04-06"), start) == -15
    assert cal.add_business_days(D("2026-04-06"), -2) == D("2026-04-02")
    assert cal.add_business_days(D("2026-05-26"), 1) == D("2026-06-01")


def test_zero_length_period_rolls_forward(cal: BusinessCalendar) -> None:
    assert cal.deadline(D("2026-03-14"), 0, "business") == at("2026-03-16")
    assert cal.deadline(D("2026-03-16"), 0, "calendar") == at("2026-03-16")


@pytest.mark.parametrize("day", ["2026-01-15", "2026-03-29", "2026-07-15", "2026-10-25", "2027-06-30"])
def test_istanbul_offset_is_fixed(cal: BusinessCalendar, day: str) -> None:
    due = cal.end_of_day(D(day))
    assert due.utcoffset() == timedelta(hours=3)
    assert due.astimezone(UTC).time() == time(14, 30)


def test_due_record(cal: BusinessCalendar) -> None:
    due = cal.legal_due("4982", D("2026-03-13"))
    assert due.day == D("2026-04-06")
    assert due.local == at("2026-04-06")
    assert due.utc == datetime(2026, 4, 6, 14, 30, tzinfo=UTC)
    assert due.calendar_version == cal.version


@pytest.fixture(scope="module")
def helpers(cal: BusinessCalendar) -> dict:
    return expression_helpers(cal)


def test_expression_helpers_default_to_today(helpers: dict) -> None:
    # 22:30 UTC on 03-12 is already 01:30 on 03-13 in Istanbul.
    with frozen_at(datetime(2026, 3, 12, 22, 30, tzinfo=UTC)):
        assert helpers["bugun"]() == "2026-03-13"
        assert helpers["simdi"]() == "2026-03-13T01:30:00+03:00"
        assert helpers["is_gunu_sonra"](15) == "2026-04-06T17:30:00+03:00"
        assert helpers["gun_sonra"](30) == "2026-04-13T17:30:00+03:00"


@pytest.mark.parametrize(
    "start",
    [D("2026-03-13"), "2026-03-13", "2026-03-13T10:00:00+03:00", datetime(2026, 3, 12, 21, 30, tzinfo=UTC)],
)
def test_expression_helpers_accept_dates_datetimes_and_strings(helpers: dict, start: object) -> None:
    results = [
        helpers["is_gunu_sonra"](15, start),
        helpers["is_gunu_sonra"]("15", baslangic=start),
        helpers["gun_sonra"](30, start),
        helpers["yasal_sure"]("4982", start),
        helpers["yasal_sure"]("3071", start),
    ]
    assert all(isinstance(r, str) for r in results)
    parsed = [datetime.fromisoformat(r) for r in results]
    assert all(p.utcoffset() == timedelta(hours=3) for p in parsed)
    assert all(r.endswith("+03:00") for r in results)
    expected = ["2026-04-06", "2026-04-06", "2026-04-13", "2026-04-06", "2026-04-13"]
    assert [p.date().isoformat() for p in parsed] == expected


def test_expression_helpers_misc() -> None:
    closed = expression_helpers(BusinessCalendar(closure_days=[D("2026-04-06")]))
    assert closed["is_gunu_sonra"](15, "2026-03-13") == "2026-04-06T17:30:00+03:00"
    assert closed["is_gunu_sonra"](15, "2026-03-13", kurum_ici=True) == "2026-04-07T17:30:00+03:00"
    assert closed["is_gunu_mu"]("2026-04-23") is False
    assert closed["is_gunu_mu"]("2026-04-24") is True
    assert closed["yasal_sure"]("4982", "2026-05-04") == "2026-05-26T13:00:00+03:00"
    with pytest.raises(ValueError, match="Geçersiz tarih"):
        closed["yasal_sure"]("4982", "13.03.2026")
    with pytest.raises(ValueError, match="Bilinmeyen kanun kodu"):
        closed["yasal_sure"]("9999", "2026-03-13")
