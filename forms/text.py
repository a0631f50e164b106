"""User-facing texts of form definitions (titles, labels, help) in several languages.

A definition may give a text as a plain string (Turkish) or as ``{"tr": ..., "en": ...}``.
Both become a :class:`LocalizedText`: a ``str`` whose value is the Turkish text, so code
that only needs Turkish can use it as a string, carrying the other translations along.
Rendering (``to_dict``) picks the language given, else the one active in
:data:`current_language` (default ``"tr"``), falling back to Turkish.
"""

from __future__ import annotations

import contextvars
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from forms.errors import FormDefinitionError

DEFAULT_LANGUAGE = "tr"

current_language: contextvars.ContextVar[str] = contextvars.ContextVar("kalem_forms_language", default=DEFAULT_LANGUAGE)

_LANGUAGE_CODE = re.compile(r"[a-z]{2}")


@contextmanager
def use_language(language: str) -> Iterator[None]:
    """Render form texts in ``language`` within the ``with`` block."""
    token = current_language.set(language)
    try:
        yield
    finally:
        current_language.reset(token)


class LocalizedText(str):
    """A text whose ``str`` value is Turkish, with optional translations into other languages."""

    _translations: tuple[tuple[str, str], ...]

    def __new__(cls, turkish: str, translations: Mapping[str, str] | None = None) -> LocalizedText:
        text = super().__new__(cls, turkish)
        others = {lang: value for lang, value in (translations or {}).items() if lang != DEFAULT_LANGUAGE}
        text._translations = tuple(sorted(others.items()))
        return text

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (str(self), dict(self._translations)))

    @property
    def translations(self) -> dict[str, str]:
        """All languages of this text, Turkish first."""
        return {DEFAULT_LANGUAGE: str(self), **dict(self._translations)}

    def get(self, language: str | None = None) -> str:
        """The text in ``language`` (default: the active language), else in Turkish."""
        language = language or current_language.get()
        return dict(self._translations).get(language, str(self))

    def to_json(self) -> str | dict[str, str]:
        """The definition-document form: a plain string, or a dict if there are translations."""
        return self.translations if self._translations else str(self)


def localized(value: object, *, what: str, path: str | None = None, field: str | None = None) -> LocalizedText:
    """Turn a definition text (string or ``{"tr": ..., "en": ...}``) into a :class:`LocalizedText`.

    ``what`` names the text in error messages (``"Etiket"``).
    """
    if isinstance(value, LocalizedText):
        return value
    if isinstance(value, str):
        if not value.strip():
            raise FormDefinitionError(f"{what} boş olamaz.", field=field, path=path)
        return LocalizedText(value.strip())
    if not isinstance(value, Mapping):
        raise FormDefinitionError(
            f'{what} bir metin ya da {{"tr": ..., "en": ...}} sözlüğü olmalı.', field=field, path=path
        )
    cleaned: dict[str, str] = {}
    for lang, text in value.items():
        if not isinstance(lang, str) or not _LANGUAGE_CODE.fullmatch(lang):
            raise FormDefinitionError(
                f"{what}: dil kodu iki küçük harf olmalı (ör. 'tr', 'en'), '{lang}' geçersiz.",
                field=field,
                path=path,
            )
        if not isinstance(text, str) or not text.strip():
            raise FormDefinitionError(f"{what} ('{lang}') boş olmayan bir metin olmalı.", field=field, path=path)
        cleaned[lang] = text.strip()
    if DEFAULT_LANGUAGE not in cleaned:
        raise FormDefinitionError(f"{what} için Türkçe metin ('tr') zorunludur.", field=field, path=path)
    return LocalizedText(cleaned[DEFAULT_LANGUAGE], cleaned)


def render(value: str | None, language: str | None = None) -> str | None:
    """A text rendered in ``language`` (default: the active one); plain strings as they are."""
    if value is None:
        return None
    if isinstance(value, LocalizedText):
        return value.get(language)
    return str(value)
