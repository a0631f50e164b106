"""``kayit_no``: the registration number (sayı) of a case from a per-year counter."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from engine.handlers import HandlerContext, handler

SERIES = re.compile(r"[A-Z0-9]{1,12}")


@handler("kayit_no")
def kayit_no(ctx: HandlerContext, params: dict[str, Any]) -> Mapping[str, Any]:
    """Params: ``seri`` (upper-case series code, e.g. ``'DLK'``), optional ``alan`` (result variable,
    default ``kayit_no``). Returns ``{alan: 'DLK-2026-000042', alan + '_tarihi': ISO instant}``.

    The counter row is locked for the rest of the transaction, so two cases never share a number;
    a rolled-back step gives its number back (numbers stay gap-free among committed cases)."""
    series = str(params.get("seri") or "").strip()
    if not SERIES.fullmatch(series):
        raise ValueError(f"geçersiz kayıt serisi: {series!r} (büyük harf ve rakam, en fazla 12)")
    target = str(params.get("alan") or "kayit_no")
    now = ctx.now()
    number = ctx.next_sequence(f"kayit:{series}", now.year)
    return {target: f"{series}-{now.year}-{number:06d}", f"{target}_tarihi": now.isoformat()}
