"""Translatable engine messages, usable without any request context.

Source strings are Turkish (the product's first language). The active locale lives in a
contextvar (default ``tr``); other languages come from gettext catalogs under
``webui/translations``. Messages are formatted lazily, when turned into ``str``.
"""

from __future__ import annotations

import contextvars
import gettext
from functools import cache
from pathlib import Path
from typing import Any

DEFAULT_LOCALE = "tr"
CATALOG_DIR = Path(__file__).resolve().parent.parent / "webui" / "translations"

current_locale: contextvars.ContextVar[str] = contextvars.ContextVar("kalem_locale", default=DEFAULT_LOCALE)


@cache
def _translations(locale: str) -> gettext.NullTranslations:
    return gettext.translation("messages", CATALOG_DIR, languages=[locale], fallback=True)


class LazyText:
    """A message translated into the locale active when it is rendered."""

    __slots__ = ("kwargs", "msgid")

    def __init__(self, msgid: str, **kwargs: Any) -> None:
        self.msgid = msgid
        self.kwargs = kwargs

    def __str__(self) -> str:
        locale = current_locale.get()
        text = self.msgid if locale == DEFAULT_LOCALE else _translations(locale).gettext(self.msgid)
        return text.format(**self.kwargs) if self.kwargs else text

    def __repr__(self) -> str:
        return f"LazyText({self.msgid!r})"


def _(msgid: str, **kwargs: Any) -> LazyText:
    """Mark a Turkish message for translation; ``{name}`` placeholders are filled from kwargs."""
    return LazyText(msgid, **kwargs)
