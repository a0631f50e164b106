"""``sure_hesapla``: a case's legal and internal due instants from the business calendar."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from engine.calendar import default_calendar
from engine.handlers import HandlerContext, handler


@handler("sure_hesapla")
def sure_hesapla(ctx: HandlerContext, params: dict[str, Any]) -> Mapping[str, Any]:
    """Params: ``kanun`` (a law code: ``3071``, ``4982``, ``4982-uzatma``) and ``baslangic`` (the day
    the clock starts from: receipt or CİMER sevk date; default today), optional ``ic_sure_gun``
    (internal due = legal due minus this many calendar days, rolled back to a business day; default 7).

    Returns ``yasal_son_tarih`` and ``ic_son_tarih`` (ISO instants, Europe/Istanbul)."""
    calendar = default_calendar()
    start = params.get("baslangic")
    received = calendar.today() if start in (None, "") else calendar.local_date(start)
    legal = calendar.legal_deadline(str(params.get("kanun") or ""), received)
    margin = int(params.get("ic_sure_gun") if params.get("ic_sure_gun") is not None else 7)
    internal_day = legal.date() - timedelta(days=margin)
    while not calendar.is_business_day(internal_day, for_internal=True) and internal_day > received:
        internal_day -= timedelta(days=1)
    internal_day = max(internal_day, calendar.add_business_days(received, 1, for_internal=True))
    internal = min(calendar.end_of_day(internal_day), legal)
    return {"yasal_son_tarih": legal.isoformat(), "ic_son_tarih": internal.isoformat()}
