"""``arsivle``: close a case file (tümleşik dosya) with its SDP code and retention."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from engine.handlers import HandlerContext, handler

SDP_CODE = re.compile(r"\d{3}(\.\d{2}){0,3}")


@handler("arsivle")
def arsivle(ctx: HandlerContext, params: dict[str, Any]) -> Mapping[str, Any]:
    """Params: ``sdp_kodu`` (e.g. ``'642.02'``), ``saklama_yil`` (years kept in the unit archive,
    default 5), ``sonuc`` (the case's end state). Returns ``arsiv``: the closing record that the
    archiving flow (F13) lists when the retention has run out (``imha_uygun`` = first eligible day)."""
    code = str(params.get("sdp_kodu") or "").strip()
    if not SDP_CODE.fullmatch(code):
        raise ValueError(f"geçersiz SDP kodu: {code!r} (ör. '642.02')")
    years = int(params.get("saklama_yil") if params.get("saklama_yil") is not None else 5)
    if not 0 < years <= 100:
        raise ValueError(f"geçersiz saklama süresi: {years}")
    closed = ctx.now()
    eligible = closed.date().replace(year=closed.year + years + 1, month=1, day=1)
    return {
        "arsiv": {
            "sdp_kodu": code,
            "kapanis": closed.isoformat(),
            "saklama_yil": years,
            "imha_uygun": eligible.isoformat(),
            "sonuc": str(params.get("sonuc") or ""),
            "kayit_no": ctx.data.get("kayit_no"),
        }
    }
