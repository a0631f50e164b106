"""Business calendar for legal and internal deadlines (domain guide §4.1–4.3).

Turkish official holidays and half-day eves come from the ``holidays`` package
(``holidays.Turkey``, categories ``public`` and ``half_day``, Turkish names), cached per
year. On top of that data a :class:`BusinessCalendar` applies the municipality's
configuration and the counting rules of domain guide §4.2:

* rule 1 – counting starts the day *after* receipt;
* rule 2 – calendar-day periods (3071: 30 days) add N days; a last day that is not a
  business day rolls forward to the next business day;
* rule 3 / 9 – business-day periods (4982: 15 iş günü) count business days only and the
  Nth is the last day; the extension (30 iş günü) is counted from the same start;
* rule 4 / 11 – a business day is Monday–Friday and not a full official holiday;
  holidays falling on a weekend are not moved;
* rule 5 – half days (arife of Ramazan/Kurban Bayramı, 28 Ekim; off from 13:00) are
  business days; a deadline whose last day is a half day ends at 13:00
  (:attr:`ArifePolicy.HALF_DAY_1300`, default) or moves to the next full business day
  (:attr:`ArifePolicy.NEXT_BUSINESS_DAY`);
* rule 6 – "kurum kapalı" closure days (idari izin) never move legal deadlines; they
  are closed only for internal SLAs, when a caller asks with ``for_internal=True``;
* rule 7 – a deadline falls due at the end of working hours (default 17:30); everything
  is computed in Europe/Istanbul and returned as aware datetimes (store
  ``.astimezone(UTC)``);
* rule 8 – the 4982 fee notification interrupts the period: :func:`fee_resume_days`
  and :meth:`BusinessCalendar.deadline_after_fee` resume the remaining days after
  payment (:attr:`FeePolicy.RESUME`, default) or restart the full period
  (:attr:`FeePolicy.RESTART`);
* rule 12 – administrators may add or remove holidays; :attr:`BusinessCalendar.version`
  names the package data and configuration so each deadline can record which calendar
  computed it.

:func:`expression_helpers` exposes Turkish-named helpers to BPMN scripts and timer
expressions; they return ISO 8601 strings with the +03:00 offset.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from functools import cache
from types import MappingProxyType
from typing import Any, Final, NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays

from engine import clock
from engine.errors import InvalidInput

__all__ = [
    "LAWS",
    "ArifePolicy",
    "BusinessCalendar",
    "CalendarError",
    "Due",
    "FeePolicy",
    "Period",
    "Unit",
    "default_calendar",
    "expression_helpers",
    "fee_resume_days",
]

DEFAULT_TZ: Final = "Europe/Istanbul"
HOLIDAYS_LANGUAGE: Final = "tr"
_ONE_DAY: Final = timedelta(days=1)
_SATURDAY: Final = 5


class CalendarError(InvalidInput, ValueError):
    """Invalid calendar input (unknown law, bad date, bad configuration).

    A :class:`ValueError` for plain Python callers and an ``InvalidInput`` for the web/API
    layers, so the Turkish message reaches the user.
    """

    code = "calendar_error"


class ArifePolicy(StrEnum):
    """What a deadline whose last day is a half-day eve does (rule 5)."""

    HALF_DAY_1300 = "half_day_1300"
    NEXT_BUSINESS_DAY = "next_business_day"


class FeePolicy(StrEnum):
    """How a 4982 period continues after the applicant pays the fee (rule 8)."""

    RESUME = "resume"
    RESTART = "restart"


class Unit(StrEnum):
    """Unit of a period; equal to the plain strings ``"calendar"`` and ``"business"``."""

    CALENDAR = "calendar"
    BUSINESS = "business"


class Period(NamedTuple):
    """A legal period: ``(length, unit)``."""

    length: int
    unit: Unit


LAWS: Final[Mapping[str, Period]] = MappingProxyType(
    {
        # 3071 m.7: dilekçe answer, 30 days.
        "3071": Period(30, Unit.CALENDAR),
        # 4982 m.11: access to information, 15 iş günü.
        "4982": Period(15, Unit.BUSINESS),
        # 4982 m.11: extended period, 30 iş günü in total from the same start (rule 9).
        "4982-uzatma": Period(30, Unit.BUSINESS),
        # Bilgi Edinme Yönetmeliği: applicant pays the fee within 15 iş günü of notification.
        "4982-ucret": Period(15, Unit.BUSINESS),
        # 4982 m.13: objection to a refusal, 15 days.
        "4982-itiraz": Period(15, Unit.CALENDAR),
        # BEDK decides an objection within 30 iş günü.
        "bedk": Period(30, Unit.BUSINESS),
        # 6698 (KVKK) m.13: data subject request, 30 days.
        "6698": Period(30, Unit.CALENDAR),
    }
)


@dataclass(frozen=True, slots=True)
class Due:
    """A computed due instant: last day, Istanbul-local and UTC instants, calendar version."""

    day: date
    local: datetime
    utc: datetime
    calendar_version: str


@cache
def _official_days(year: int) -> tuple[Mapping[date, str], Mapping[date, str]]:
    """Full holidays and half-day eves of ``year`` from the ``holidays`` package (cached).

    A date that is both a full holiday and an eve counts as a full holiday only.
    """
    full = dict(holidays.Turkey(years=year, categories=("public",), language=HOLIDAYS_LANGUAGE))
    eves = holidays.Turkey(years=year, categories=("half_day",), language=HOLIDAYS_LANGUAGE)
    half = {day: name for day, name in eves.items() if day not in full}
    return MappingProxyType(full), MappingProxyType(half)


def _unit(value: str) -> Unit:
    try:
        return Unit(value)
    except ValueError:
        raise CalendarError(
            f"Bilinmeyen süre birimi: {value!r}. Geçerli birimler: 'calendar' (takvim günü), 'business' (iş günü)."
        ) from None


def _count(value: Any) -> int:
    """A whole, non-negative number of days (also from numeric strings of BPMN forms)."""
    if isinstance(value, bool):
        raise CalendarError(f"Gün sayısı tam sayı olmalıdır: {value!r}.")
    try:
        number = float(value) if isinstance(value, str) else value
        count = int(number)
    except (TypeError, ValueError):
        raise CalendarError(f"Gün sayısı tam sayı olmalıdır: {value!r}.") from None
    if count != number:
        raise CalendarError(f"Gün sayısı tam sayı olmalıdır: {value!r}.")
    if count < 0:
        raise CalendarError(f"Gün sayısı negatif olamaz: {value!r}.")
    return count


def fee_resume_days(length: int, used: int, policy: FeePolicy | str = FeePolicy.RESUME) -> int:
    """Days still to count after the fee is paid (rule 8).

    ``used`` is the number of period days that ran before the fee notification (the
    notification day included). ``RESUME`` returns what is left (0 when nothing is);
    ``RESTART`` returns the full ``length``.
    """
    if FeePolicy(policy) is FeePolicy.RESTART:
        return length
    return max(length - used, 0)


class BusinessCalendar:
    """Turkish business calendar with the municipality's overrides (see module docstring)."""

    def __init__(
        self,
        *,
        workday_end: time = time(17, 30),
        half_day_end: time = time(13, 0),
        arife_policy: ArifePolicy | str = ArifePolicy.HALF_DAY_1300,
        closure_days: Iterable[date] = (),
        extra_holidays: Mapping[date, str] | None = None,
        removed_holidays: Iterable[date] = (),
        tz: str = DEFAULT_TZ,
    ) -> None:
        try:
            self.zone = ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError):
            raise CalendarError(f"Bilinmeyen saat dilimi: {tz!r}.") from None
        try:
            self.arife_policy = ArifePolicy(arife_policy)
        except ValueError:
            raise CalendarError(f"Bilinmeyen arife politikası: {arife_policy!r}.") from None
        self.tz_name = tz
        self.workday_end = workday_end
        self.half_day_end = half_day_end
        # Overrides may come from stored configuration, so ISO strings are accepted too.
        self.closure_days: frozenset[date] = frozenset(self.local_date(d) for d in closure_days)
        self.extra_holidays: Mapping[date, str] = MappingProxyType(
            {self.local_date(d): (name or "Ek tatil") for d, name in (extra_holidays or {}).items()}
        )
        self.removed_holidays: frozenset[date] = frozenset(self.local_date(d) for d in removed_holidays)
        clash = sorted(self.removed_holidays & self.extra_holidays.keys())
        if clash:
            days = ", ".join(d.isoformat() for d in clash)
            raise CalendarError(f"Aynı gün hem ek tatil hem kaldırılan tatil olarak verilemez: {days}.")
        self.version: str = self._compute_version()

    def __repr__(self) -> str:
        return f"BusinessCalendar(version={self.version!r})"

    # -- identity -----------------------------------------------------------------

    def _compute_version(self) -> str:
        """``holidays-<package version>+<hash of configuration and overrides>``."""
        payload = {
            "tz": self.tz_name,
            "workday_end": self.workday_end.isoformat(),
            "half_day_end": self.half_day_end.isoformat(),
            "arife_policy": str(self.arife_policy),
            "closure_days": sorted(d.isoformat() for d in self.closure_days),
            "extra_holidays": sorted((d.isoformat(), n) for d, n in self.extra_holidays.items()),
            "removed_holidays": sorted(d.isoformat() for d in self.removed_holidays),
        }
        blob = json.dumps(payload, sort_keys=True, ensure_ascii=False).encode()
        return f"holidays-{holidays.__version__}+{hashlib.sha256(blob).hexdigest()[:12]}"

    # -- date normalisation -------------------------------------------------------

    def _day(self, value: date) -> date:
        """The Istanbul calendar day of a date or datetime (naive datetimes are local)."""
        if isinstance(value, datetime):
            return value.astimezone(self.zone).date() if value.tzinfo else value.date()
        if isinstance(value, date):
            return value
        raise CalendarError(f"Geçersiz tarih: {value!r}.")

    def local_date(self, value: date | datetime | str) -> date:
        """Istanbul calendar day of a date, a datetime or an ISO 8601 string."""
        if isinstance(value, str):
            try:
                value = datetime.fromisoformat(value.strip())
            except ValueError:
                raise CalendarError(f"Geçersiz tarih: {value!r}. Beklenen biçim: YYYY-AA-GG.") from None
        return self._day(value)

    def today(self) -> date:
        """Today in the calendar's time zone, from :func:`engine.clock.now`."""
        return clock.now().astimezone(self.zone).date()

    def now_local(self) -> datetime:
        """Now in the calendar's time zone, from :func:`engine.clock.now`."""
        return clock.now().astimezone(self.zone)

    # -- day classification -------------------------------------------------------

    def _full_holiday_name(self, d: date) -> str | None:
        if d in self.extra_holidays:
            return self.extra_holidays[d]
        if d in self.removed_holidays:
            return None
        return _official_days(d.year)[0].get(d)

    def is_business_day(self, d: date, *, for_internal: bool = False) -> bool:
        """Monday–Friday and not a full holiday; closure days count only ``for_internal``."""
        d = self._day(d)
        if d.weekday() >= _SATURDAY or self._full_holiday_name(d) is not None:
            return False
        return not (for_internal and d in self.closure_days)

    def is_half_day(self, d: date) -> bool:
        """Whether ``d`` is an official half-day eve (off from 13:00), after overrides.

        Eves falling on a weekend are reported too; they are not business days anyway.
        """
        d = self._day(d)
        if d in self.removed_holidays or self._full_holiday_name(d) is not None:
            return False
        return d in _official_days(d.year)[1]

    def is_closure_day(self, d: date) -> bool:
        """Whether an administrator marked ``d`` as "kurum kapalı" (idari izin)."""
        return self._day(d) in self.closure_days

    def holiday_name(self, d: date) -> str | None:
        """Turkish name of the full holiday or half-day eve on ``d``; ``None`` otherwise."""
        d = self._day(d)
        name = self._full_holiday_name(d)
        if name is None and self.is_half_day(d):
            name = _official_days(d.year)[1][d]
        return name

    # -- day arithmetic -----------------------------------------------------------

    def next_business_day(self, d: date, *, for_internal: bool = False) -> date:
        """The first business day strictly after ``d``."""
        d = self._day(d) + _ONE_DAY
        while not self.is_business_day(d, for_internal=for_internal):
            d += _ONE_DAY
        return d

    def roll_forward(self, d: date, *, for_internal: bool = False) -> date:
        """``d`` itself when it is a business day, else the next business day."""
        d = self._day(d)
        if self.is_business_day(d, for_internal=for_internal):
            return d
        return self.next_business_day(d, for_internal=for_internal)

    def add_business_days(self, start: date, n: int, *, for_internal: bool = False) -> date:
        """The ``n``th business day after ``start`` (``start`` not counted).

        A negative ``n`` counts backwards (e.g. "legal due − 2 business days");
        ``n == 0`` returns ``start`` unchanged.
        """
        d = self._day(start)
        step = _ONE_DAY if n >= 0 else -_ONE_DAY
        remaining = abs(n)
        while remaining:
            d += step
            if self.is_business_day(d, for_internal=for_internal):
                remaining -= 1
        return d

    def add_calendar_days(self, start: date, n: int, *, for_internal: bool = False) -> date:
        """``start + n`` days, rolled forward to a business day (rule 2)."""
        return self.roll_forward(self._day(start) + timedelta(days=n), for_internal=for_internal)

    def business_days_between(self, start: date, end: date, *, for_internal: bool = False) -> int:
        """Business days in ``(start, end]``; negative when ``end`` is before ``start``.

        Inverse of :meth:`add_business_days` when ``end`` is a business day.
        """
        start, end = self._day(start), self._day(end)
        sign = 1
        if end < start:
            start, end, sign = end, start, -1
        count = 0
        d = start + _ONE_DAY
        while d <= end:
            if self.is_business_day(d, for_internal=for_internal):
                count += 1
            d += _ONE_DAY
        return sign * count

    # -- instants -----------------------------------------------------------------

    def end_of_day(self, d: date) -> datetime:
        """Due instant of day ``d`` in the calendar's zone (rule 7).

        13:00 (``half_day_end``) on a half day under ``HALF_DAY_1300``, else ``workday_end``.
        """
        d = self._day(d)
        half = self.arife_policy is ArifePolicy.HALF_DAY_1300 and self.is_half_day(d)
        return datetime.combine(d, self.half_day_end if half else self.workday_end, tzinfo=self.zone)

    def _apply_arife(self, last: date, *, for_internal: bool) -> date:
        """Under ``NEXT_BUSINESS_DAY`` a half-day last day moves to the next full business day."""
        if self.arife_policy is not ArifePolicy.NEXT_BUSINESS_DAY:
            return last
        while self.is_half_day(last) or not self.is_business_day(last, for_internal=for_internal):
            last = self.next_business_day(last, for_internal=for_internal)
        return last

    def last_day(self, received: date, n: int, unit: str, *, for_internal: bool = False) -> date:
        """Last day of an ``n``-day period starting the day after ``received``.

        ``n == 0`` means "the day of receipt", rolled forward to a business day.
        """
        unit, n, received = _unit(unit), _count(n), self._day(received)
        if n == 0:
            last = self.roll_forward(received, for_internal=for_internal)
        elif unit is Unit.BUSINESS:
            last = self.add_business_days(received, n, for_internal=for_internal)
        else:
            last = self.add_calendar_days(received, n, for_internal=for_internal)
        return self._apply_arife(last, for_internal=for_internal)

    def deadline(self, received: date, n: int, unit: str, *, for_internal: bool = False) -> datetime:
        """Due instant (Istanbul, aware) of an ``n``-day period from ``received``.

        ``unit`` is ``"calendar"`` or ``"business"``; ``for_internal`` also skips closure days.
        """
        return self.end_of_day(self.last_day(received, n, unit, for_internal=for_internal))

    def law_period(self, law: str) -> Period:
        """``(length, unit)`` of a law code from :data:`LAWS`."""
        try:
            return LAWS[law]
        except (KeyError, TypeError):
            codes = ", ".join(LAWS)
            raise CalendarError(f"Bilinmeyen kanun kodu: {law!r}. Geçerli kodlar: {codes}.") from None

    def legal_deadline(self, law: str, received: date) -> datetime:
        """Legal due instant (Istanbul, aware) of ``law`` for a document received on ``received``.

        Closure days never move it (rule 6); the arife policy applies (rule 5).
        """
        length, unit = self.law_period(law)
        return self.deadline(received, length, unit)

    def due(self, received: date, n: int, unit: str, *, for_internal: bool = False) -> Due:
        """Like :meth:`deadline`, with the UTC instant and calendar version for storage."""
        local = self.deadline(received, n, unit, for_internal=for_internal)
        return Due(day=local.date(), local=local, utc=local.astimezone(UTC), calendar_version=self.version)

    def legal_due(self, law: str, received: date) -> Due:
        """Like :meth:`legal_deadline`, with the UTC instant and calendar version for storage."""
        length, unit = self.law_period(law)
        return self.due(received, length, unit)

    def deadline_after_fee(
        self,
        law: str,
        received: date,
        fee_notified: date,
        fee_paid: date,
        policy: FeePolicy | str = FeePolicy.RESUME,
    ) -> datetime:
        """Due instant of ``law`` after a fee interruption (rule 8).

        ``RESUME``: the days that ran from the day after receipt to the notification day
        (inclusive) are used up; the rest is counted from the day after payment. When none
        are left the original deadline stands. ``RESTART``: the full period is counted from
        the day after payment.
        """
        length, unit = self.law_period(law)
        received, fee_notified, fee_paid = self._day(received), self._day(fee_notified), self._day(fee_paid)
        if fee_notified < received:
            raise CalendarError("Ücret bildirimi başvuru tarihinden önce olamaz.")
        if fee_paid < fee_notified:
            raise CalendarError("Ücret ödemesi ücret bildiriminden önce olamaz.")
        try:
            policy = FeePolicy(policy)
        except ValueError:
            raise CalendarError(f"Bilinmeyen ücret politikası: {policy!r}.") from None
        if unit is Unit.BUSINESS:
            used = self.business_days_between(received, fee_notified)
        else:
            used = (fee_notified - received).days
        remaining = fee_resume_days(length, used, policy)
        if remaining == 0:
            return self.deadline(received, length, unit)
        return self.deadline(fee_paid, remaining, unit)


def expression_helpers(calendar: BusinessCalendar) -> dict[str, Callable[..., Any]]:
    """Turkish-named helpers for BPMN scripts and expressions.

    Timer expressions need ISO 8601 strings with an offset, so the helpers return strings:

    * ``is_gunu_sonra(n, baslangic=None, kurum_ici=False)`` – end of the nth business day
      after ``baslangic`` (date, datetime or ISO string; default today in Istanbul);
      ``kurum_ici=True`` also skips "kurum kapalı" days (internal SLAs);
    * ``gun_sonra(n, baslangic=None, kurum_ici=False)`` – n calendar days, rolled to a
      business day, end of day;
    * ``yasal_sure(kanun, basvuru_tarihi)`` – legal deadline of a law code in ``LAWS``;
    * ``is_gunu_mu(tarih)`` – whether a day is a business day (a bool);
    * ``bugun()`` – today's ISO date; ``simdi()`` – now, ISO datetime with offset.
    """

    def start_day(baslangic: date | datetime | str | None) -> date:
        return calendar.today() if baslangic is None else calendar.local_date(baslangic)

    def is_gunu_sonra(n: int, baslangic: date | datetime | str | None = None, kurum_ici: bool = False) -> str:
        return calendar.deadline(start_day(baslangic), n, Unit.BUSINESS, for_internal=kurum_ici).isoformat()

    def gun_sonra(n: int, baslangic: date | datetime | str | None = None, kurum_ici: bool = False) -> str:
        return calendar.deadline(start_day(baslangic), n, Unit.CALENDAR, for_internal=kurum_ici).isoformat()

    def yasal_sure(kanun: str, basvuru_tarihi: date | datetime | str) -> str:
        return calendar.legal_deadline(str(kanun), calendar.local_date(basvuru_tarihi)).isoformat()

    def is_gunu_mu(tarih: date | datetime | str) -> bool:
        return calendar.is_business_day(calendar.local_date(tarih))

    def bugun() -> str:
        return calendar.today().isoformat()

    def simdi() -> str:
        return calendar.now_local().isoformat()

    return {
        "is_gunu_sonra": is_gunu_sonra,
        "gun_sonra": gun_sonra,
        "yasal_sure": yasal_sure,
        "is_gunu_mu": is_gunu_mu,
        "bugun": bugun,
        "simdi": simdi,
    }


@cache
def default_calendar() -> BusinessCalendar:
    """The module-level default calendar (17:30, 13:00 eves, no overrides), built once."""
    return BusinessCalendar()
