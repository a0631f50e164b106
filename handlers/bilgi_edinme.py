"""Handlers of the 4982 bilgi edinme flow (``processes/bilgi_edinme``).

* ``bilgi_edinme_bildir``: a notice to the applicant through the best channel the case holds
  (e-mail, else SMS); every notice is listed in ``bildirimler``. With neither, nothing is queued
  and the entry says ``posta``: the written notice goes by post, recorded by the task that sent it.
* ``bilgi_edinme_ucret_sonrasi_sure``: the legal due after the fee interruption (domain guide
  §4.2 rule 8): the days used before the fee notice are kept, the rest run from the day after
  payment (``resume``, default) or the whole period restarts (``restart``).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from engine.calendar import BusinessCalendar, FeePolicy, default_calendar
from engine.handlers import HandlerContext, handler

SMS_LIMIT = 300


@handler("bilgi_edinme_bildir")
def bilgi_edinme_bildir(ctx: HandlerContext, params: dict[str, Any]) -> Mapping[str, Any]:
    """Params: ``konu`` (subject), ``metin`` (body). Reads ``basvuran_eposta``, ``basvuran_telefon``
    and ``kayit_no`` from the case. Returns ``bildirimler`` (the list so far plus this notice:
    ``konu``, ``kanal`` e_posta | sms | posta, ``tarih``)."""
    subject = str(params.get("konu") or "").strip()
    body = str(params.get("metin") or "").strip()
    if not subject or not body:
        raise ValueError("bildirim konusu ve metni boş olamaz")
    email = str(ctx.data.get("basvuran_eposta") or "").strip()
    phone = str(ctx.data.get("basvuran_telefon") or "").strip()
    if email:
        ctx.enqueue_notification("email", email, subject, body)
        channel = "e_posta"
    elif phone:
        reference = ctx.data.get("kayit_no") or ""
        short = f"{subject} ({reference}). Ayrıntılar yazılı olarak bildirilecektir." if reference else subject
        ctx.enqueue_notification("sms", phone, subject, short[:SMS_LIMIT])
        channel = "sms"
    else:
        channel = "posta"
    earlier = ctx.data.get("bildirimler") or []
    entry = {"konu": subject, "kanal": channel, "tarih": ctx.now().isoformat()}
    return {"bildirimler": [*earlier, entry]}


@handler("bilgi_edinme_ucret_sonrasi_sure")
def bilgi_edinme_ucret_sonrasi_sure(ctx: HandlerContext, params: dict[str, Any]) -> Mapping[str, Any]:
    """Params: ``kanun`` (``4982`` or ``4982-uzatma``), ``basvuru_tarihi``, ``ucret_bildirim_tarihi``,
    optional ``odeme_tarihi`` (default today) and ``politika`` (``resume`` | ``restart``).

    A payment date before the fee notice is taken as the notice day and one in the future as
    today: both give the earlier deadline, so the institution is never late by our reading.
    Returns ``yasal_son_tarih`` (ISO instant) and ``ucret_kesintisi`` (what was computed and how)."""
    calendar = default_calendar()
    law = str(params.get("kanun") or "4982")
    received = _day(calendar, params.get("basvuru_tarihi"), "basvuru_tarihi")
    notified = _day(calendar, params.get("ucret_bildirim_tarihi"), "ucret_bildirim_tarihi")
    today = calendar.today()
    paid_raw = params.get("odeme_tarihi")
    paid = today if paid_raw in (None, "") else _day(calendar, paid_raw, "odeme_tarihi")
    adjusted = paid < notified or paid > today
    paid = min(max(paid, notified), today)
    policy = FeePolicy(str(params.get("politika") or FeePolicy.RESUME))
    due = calendar.deadline_after_fee(law, received, notified, paid, policy)
    return {
        "yasal_son_tarih": due.isoformat(),
        "ucret_kesintisi": {
            "kanun": law,
            "ucret_bildirim_tarihi": notified.isoformat(),
            "odeme_tarihi": paid.isoformat(),
            "odeme_tarihi_duzeltildi": adjusted,
            "onceki_son_tarih": ctx.data.get("yasal_son_tarih"),
            "yeni_son_tarih": due.isoformat(),
            "politika": str(policy),
            "takvim_surumu": calendar.version,
        },
    }


def _day(calendar: BusinessCalendar, value: Any, name: str) -> date:
    if isinstance(value, date | datetime):
        return calendar.local_date(value)
    if isinstance(value, str) and value.strip():
        return calendar.local_date(value)
    raise ValueError(f"{name} eksik ya da geçersiz: {value!r}")
