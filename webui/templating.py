"""Template filters and labels shared by every page: form texts in the UI language, input values,
file sizes, and the Turkish-first labels of statuses and audit actions."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from flask import Flask
from flask_babel import format_percent
from flask_babel import gettext as _

from engine import attachments, deadlines, worklist
from engine.models import HumanTask
from forms.text import render
from webui.i18n import ISTANBUL, local_time


def localized(value: Any) -> str:
    """A form definition text (``LocalizedText`` or plain) in the UI language."""
    return render(value) or ""


def truthy(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.lower() in ("true", "on", "1", "evet"))


def input_value(value: Any, field_type: str) -> str:
    """A value as an HTML input of ``field_type`` shows it (dates ISO, instants in Istanbul time)."""
    if value is None:
        return ""
    if field_type == "datetime" and isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return value
    if isinstance(value, datetime):
        local = value.astimezone(ISTANBUL) if value.tzinfo else value
        return local.strftime("%Y-%m-%dT%H:%M")
    if isinstance(value, date | Decimal):
        return value.isoformat() if isinstance(value, date) else str(value)
    if isinstance(value, list | tuple):
        return ", ".join(map(str, value))
    return str(value)


def humanize(key: str) -> str:
    """``basvuran_ad_soyad`` → ``Ad soyad`` (the applicant prefix is the section's title)."""
    text = key.removeprefix("basvuran_").replace("_", " ").strip()
    return text[:1].upper() + text[1:] if text else key


def names(codes: list[str], known: dict[str, str]) -> str:
    """Codes (usernames, group codes) as their display names, comma-separated."""
    return ", ".join(known.get(code, code) for code in codes)


def filesize(size: int) -> str:
    if size < 1024:
        return f"{size} B"
    if size < 1024 * 1024:
        return f"{size / 1024:.0f} KB"
    return f"{size / (1024 * 1024):.1f} MB"


def parse_instant(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    try:
        return datetime.fromisoformat(str(value))
    except ValueError:
        return None


def deadline_status(task: HumanTask) -> str:
    return str(worklist.status_of(task.created_at, task.due_at, worklist.thresholds()))


# Severity of each step's badge (a CSS class; the text says the same, colour is only a help).
ESCALATION_SEVERITY = {
    "hatirlatma": "info",
    "hatirlatma_yonetici": "warn",
    "yuzde_50": "info",
    "yuzde_75": "warn",
    "son_2_gun": "bad",
    "gecikti": "bad",
}


def escalation_badge(reached: deadlines.Reached) -> dict[str, str]:
    """Text, explanation (tooltip and screen readers) and severity of an escalation step's badge,
    in the inbox and on the task page."""
    # "%75" in Turkish, "75%" in English: the number is formatted for the UI language.
    percent, days = format_percent((reached.percent or 0) / 100), reached.days or 0
    texts = {
        "hatirlatma": (
            _("Hatırlatıldı"),
            _("İş bekliyor: yapabilecek kişilere hatırlatma gönderildi."),
        ),
        "hatirlatma_yonetici": (
            _("Yöneticiye bildirildi"),
            _("İş hâlâ bekliyor: Şef ve Müdüre bildirildi."),
        ),
        "yuzde_50": (
            _("%(percent)s uyarısı", percent=percent),
            _("Geçen süre %(percent)s: işi yapana hatırlatıldı.", percent=percent),
        ),
        "yuzde_75": (
            _("%(percent)s uyarısı", percent=percent),
            _("Geçen süre %(percent)s: yöneticilere ve Özel Kalem Şefine bildirildi.", percent=percent),
        ),
        "son_2_gun": (
            _("Son %(days)s gün", days=days),
            _("Son tarihe %(days)s iş günü kaldı: işi yapana ve yöneticilere acil uyarı gönderildi.", days=days),
        ),
        "gecikti": (
            _("Gecikme bildirildi"),
            _("Son tarih geçti: iş açık ve gecikmiş olarak işaretlendi, yöneticilere bildirildi."),
        ),
    }
    if reached.scope == "case":
        texts |= {
            "son_2_gun": (
                _("Yasal süre: son %(days)s gün", days=days),
                _(
                    "Yasal süreye %(days)s iş günü kaldı: Özel Kalem Müdürüne bildirildi; süreç bekliyorsa "
                    "ara cevap veya süre uzatımı görevi açıldı.",
                    days=days,
                ),
            ),
            "gecikti": (
                _("Yasal süre aşıldı"),
                _(
                    "Yasal süre geçti: dosya gecikmiş olarak işaretlendi, Başkan Yardımcılarına ve Özel Kalem "
                    "Müdürüne bildirildi."
                ),
            ),
        }
    label, explanation = texts.get(reached.step, (reached.step, ""))
    when = _("Uyarı zamanı: %(when)s", when=local_time(reached.applied_at))
    return {
        "label": label,
        "title": f"{explanation} {when}".strip(),
        "explanation": explanation,
        "severity": ESCALATION_SEVERITY.get(reached.step, "info"),
    }


def labels() -> dict[str, Any]:
    return {
        "status_labels": {
            "on_time": _("Süresinde"),
            "approaching": _("Süresi yaklaşıyor"),
            "overdue": _("Süresi geçti"),
        },
        "task_state_labels": {
            "open": _("Üstlenilmeyi bekliyor"),
            "claimed": _("Üstlenildi"),
            "completed": _("Tamamlandı"),
            "cancelled": _("İptal edildi"),
        },
        "instance_status_labels": {
            "running": _("Sürüyor"),
            "suspended": _("Askıda"),
            "completed": _("Tamamlandı"),
            "terminated": _("Sonlandırıldı"),
            "error": _("Hatalı"),
        },
        "action_labels": {
            "instance.started": _("Dosya açıldı"),
            "instance.completed": _("Dosya tamamlandı"),
            "instance.suspend": _("Dosya askıya alındı"),
            "instance.resume": _("Dosya sürdürüldü"),
            "instance.terminate": _("Dosya sonlandırıldı"),
            "task.created": _("Görev oluştu"),
            "task.claimed": _("Görev üstlenildi"),
            "task.unclaimed": _("Görev gruba bırakıldı"),
            "task.assigned": _("Görev atandı"),
            "task.completed": _("Görev tamamlandı"),
            "task.cancelled": _("Görev iptal edildi"),
            "comment.added": _("Yorum eklendi"),
            "attachment.added": _("Belge eklendi"),
            "incident.recorded": _("Hata kaydedildi"),
            "incident.resolved": _("Hata giderildi"),
            "message.correlated": _("Mesaj alındı"),
            "timer.fired": _("Süre doldu"),
        },
        "upload_accept": ",".join(sorted(attachments.ALLOWED_TYPES)),
        "upload_max_mb": attachments.MAX_BYTES // (1024 * 1024),
        "deadline_status": deadline_status,
        "escalation_badge": escalation_badge,
    }


def init_app(app: Flask) -> None:
    for name, fn in {
        "localized": localized,
        "truthy": truthy,
        "input_value": input_value,
        "humanize": humanize,
        "filesize": filesize,
        "names": names,
        "parse_instant": parse_instant,
    }.items():
        app.add_template_filter(fn, name)
    app.context_processor(labels)
