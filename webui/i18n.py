"""Languages and formatting of the web UI: Turkish first, English on request (``/lang/en``).

One gettext catalog (``translations/<lang>/LC_MESSAGES/messages``) serves the templates, the views
(Flask-Babel) and the engine's messages (``engine.i18n``); ``.po`` files are compiled to ``.mo`` when
the app starts, so a fresh clone needs no extra step. Times are shown in Europe/Istanbul.
"""

from __future__ import annotations

import contextvars
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from flask import Blueprint, Flask, g, redirect, request, session
from flask_babel import Babel, gettext

from engine import clock
from engine.i18n import current_locale
from forms.text import current_language
from webui.request_scope import safe_next

LANGUAGES = ("tr", "en")
DEFAULT_LANGUAGE = "tr"
TRANSLATIONS = Path(__file__).resolve().parent / "translations"
ISTANBUL = ZoneInfo("Europe/Istanbul")

bp = Blueprint("i18n", __name__)
_tokens: contextvars.ContextVar[tuple[Any, Any] | None] = contextvars.ContextVar("kalem_web_locale", default=None)


def compile_catalogs(folder: Path = TRANSLATIONS) -> None:
    """Compile every ``.po`` whose ``.mo`` is missing or older (pure Python, no pybabel call)."""
    for po_path in folder.glob("*/LC_MESSAGES/*.po"):
        mo_path = po_path.with_suffix(".mo")
        if mo_path.exists() and mo_path.stat().st_mtime >= po_path.stat().st_mtime:
            continue
        with po_path.open("rb") as po_file:
            catalog = read_po(po_file, locale=po_path.parent.parent.name)
        tmp = mo_path.with_suffix(".mo.tmp")
        with tmp.open("wb") as mo_file:
            write_mo(mo_file, catalog)
        tmp.replace(mo_path)


def N_(message: str) -> str:  # noqa: N802 - the gettext convention for "mark only"
    """Mark a message for extraction only; whoever shows it translates it later (e.g. Flask-Login)."""
    return message


def get_locale() -> str:
    """The language chosen in this session; Turkish unless the user picked another. The REST API has
    no session: its messages follow the request's Accept-Language (Turkish by default)."""
    if request.path.startswith("/api/"):
        return request.accept_languages.best_match(LANGUAGES, default=DEFAULT_LANGUAGE) or DEFAULT_LANGUAGE
    chosen = session.get("lang")
    return chosen if chosen in LANGUAGES else DEFAULT_LANGUAGE


@bp.get("/lang/<code>")
def choose_language(code: str) -> Any:
    if code in LANGUAGES:
        session["lang"] = code
    return redirect(safe_next("/"))


def _enter_locale() -> None:
    """Engine messages and form labels follow the UI language for the rest of the request."""
    lang = get_locale()
    g.lang = lang
    _tokens.set((current_locale.set(lang), current_language.set(lang)))


def _leave_locale(_exc: BaseException | None) -> None:
    tokens = _tokens.get()
    if tokens is not None:
        current_locale.reset(tokens[0])
        current_language.reset(tokens[1])
        _tokens.set(None)


def local_time(value: datetime | None, fmt: str = "%d.%m.%Y %H:%M") -> str:
    """A UTC instant as Istanbul wall-clock text."""
    if value is None:
        return "—"
    return clock.as_utc(value).astimezone(ISTANBUL).strftime(fmt)


def local_date(value: datetime | None) -> str:
    return local_time(value, "%d.%m.%Y")


def time_left(value: datetime | None, now: datetime | None = None) -> str:
    """ "3 gün 4 saat kaldı" / "2 gün gecikti", in the UI language."""
    if value is None:
        return ""
    seconds = int((clock.as_utc(value) - (now or clock.now())).total_seconds())
    late = seconds < 0
    minutes = abs(seconds) // 60
    days, hours, mins = minutes // 1440, (minutes % 1440) // 60, minutes % 60
    if days:
        amount = gettext("%(d)s gün %(h)s saat", d=days, h=hours)
    elif hours:
        amount = gettext("%(h)s saat %(m)s dakika", h=hours, m=mins)
    else:
        amount = gettext("%(m)s dakika", m=mins)
    return gettext("%(amount)s gecikti", amount=amount) if late else gettext("%(amount)s kaldı", amount=amount)


def init_app(app: Flask) -> None:
    compile_catalogs()
    app.config.setdefault("BABEL_DEFAULT_LOCALE", DEFAULT_LANGUAGE)
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", str(TRANSLATIONS))
    Babel(app, locale_selector=get_locale)
    app.before_request(_enter_locale)
    app.teardown_request(_leave_locale)
    app.add_template_filter(local_time, "local_time")
    app.add_template_filter(local_date, "local_date")
    app.add_template_filter(time_left, "time_left")
    app.register_blueprint(bp)
