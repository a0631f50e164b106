"""The ``file`` field: a reference to a file the engine has already stored.

Forms never carry file contents. The engine stores an upload and submits a reference::

    {"attachment_id": 42, "filename": "dilekce.pdf", "sha256": "…", "content_type": "application/pdf",
     "size": 18211}

``filename`` is required, plus ``attachment_id`` (positive int or non-empty string) or
``sha256`` (64 hex digits, returned lower-cased) or both. ``content_type`` and ``size``
are checked when present; other keys are kept if their values are plain scalars.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Callable, Mapping
from typing import Any

from marshmallow import ValidationError

from forms import messages as msg
from forms.fields import FormField

_SHA256 = re.compile(r"[0-9a-fA-F]{64}")
_FILENAME_FORBIDDEN = re.compile(r"[\x00-\x1f\x7f/\\]")
_CONTENT_TYPE = re.compile(r"[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*(;.*)?")
MAX_FILENAME = 255


def _clean_filename(value: Any) -> str:
    if not isinstance(value, str):
        raise ValidationError(msg.FILE)
    name = unicodedata.normalize("NFC", value).strip()
    if not name:
        raise ValidationError(msg.FILE)
    if len(name) > MAX_FILENAME or name in (".", "..") or _FILENAME_FORBIDDEN.search(name):
        raise ValidationError(msg.FILE_NAME)
    return name


def _clean_attachment_id(value: Any) -> int | str:
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    if isinstance(value, str) and value.strip() and len(value) <= 200:
        return value.strip()
    raise ValidationError(msg.FILE_ID)


def _clean_sha256(value: Any) -> str:
    if isinstance(value, str) and _SHA256.fullmatch(value.strip()):
        return value.strip().lower()
    raise ValidationError(msg.FILE_SHA256)


def _clean_size(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValidationError(msg.FILE_SIZE)
    return value


def _clean_content_type(value: Any) -> str:
    if isinstance(value, str) and _CONTENT_TYPE.fullmatch(value.strip()):
        return value.strip()
    raise ValidationError(msg.FILE_EXTRA.format(key="content_type"))


_CLEANERS: dict[str, Callable[[Any], Any]] = {
    "filename": _clean_filename,
    "attachment_id": _clean_attachment_id,
    "sha256": _clean_sha256,
    "size": _clean_size,
    "content_type": _clean_content_type,
}


def _clean_extra(key: str, value: Any) -> Any:
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, int) or (isinstance(value, float) and math.isfinite(value)):
        return value  # bool is an int
    raise ValidationError(msg.FILE_EXTRA.format(key=key))


class FileField(FormField):
    """A mapping that refers to a stored file; returned as a new ``dict``."""

    def clean(self, value: Any) -> dict[str, Any]:
        if not isinstance(value, Mapping) or not all(isinstance(key, str) for key in value):
            raise ValidationError(msg.FILE)
        if value.get("attachment_id") is None and value.get("sha256") is None:
            raise ValidationError(msg.FILE)
        reference: dict[str, Any] = {"filename": _clean_filename(value.get("filename"))}
        for key, item in value.items():
            if item is not None and key != "filename":
                cleaner = _CLEANERS.get(key)
                reference[key] = cleaner(item) if cleaner else _clean_extra(key, item)
        return reference
