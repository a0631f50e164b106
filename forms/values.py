"""Pure parsers and normalisers for form values (no marshmallow), reusable by other code.

Each function returns the clean value, or ``None`` when the input is not acceptable;
error messages are the business of :mod:`forms.fields`.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Mapping
from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

ISTANBUL = ZoneInfo("Europe/Istanbul")

_TCKN = re.compile(r"[1-9][0-9]{10}")
_PHONE_TEXT = re.compile(r"\+?[0-9 ()./-]{7,30}")
_TURKISH_FIRST_DIGITS = frozenset("23458")  # geographic (2xx-4xx), mobile (5xx), 8xx services

_EMAIL_LOCAL = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*")
_DOMAIN_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")

_SIGNED_INT = re.compile(r"[+-]?[0-9]{1,30}")
# Integer part optionally grouped by thousands with "." or "," or a space; a fraction after the other mark.
_DECIMAL_PLAIN = re.compile(r"(?P<int>[0-9]+)(?:[.,](?P<frac>[0-9]+))?")
_DECIMAL_GROUPED = re.compile(
    r"(?P<int>[0-9]{1,3}(?P<sep>[., ])[0-9]{3}(?:(?P=sep)[0-9]{3})*)(?:(?P<mark>[.,])(?P<frac>[0-9]+))?"
)

_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_TR_DATE = re.compile(r"(?P<d>[0-9]{1,2})\.(?P<m>[0-9]{1,2})\.(?P<y>[0-9]{4})")
_ISO_DATETIME = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]{1,6})?)?"
    r"(?:Z|[+-][0-9]{2}(?::?[0-9]{2})?)?"
)
_TR_DATETIME = re.compile(r"(?P<date>[0-9]{1,2}\.[0-9]{1,2}\.[0-9]{4}) (?P<h>[0-9]{1,2}):(?P<mi>[0-9]{2})")

TRUE_WORDS = frozenset({"true", "1", "on", "yes", "y", "evet", "e", "doğru", "dogru"})
FALSE_WORDS = frozenset({"false", "0", "off", "no", "n", "hayır", "hayir", "h", "yanlış", "yanlis"})


def turkish_lower(text: str) -> str:
    """Lower-case with Turkish dotted/dotless i rules (``I`` → ``ı``, ``İ`` → ``i``)."""
    return text.replace("I", "ı").replace("İ", "i").lower()


def tckn_is_valid(value: str) -> bool:
    """Whether ``value`` is a T.C. kimlik numarası: 11 digits, first not 0, both check digits right."""
    if not isinstance(value, str) or not _TCKN.fullmatch(value):
        return False
    d = [int(c) for c in value]
    odd, even = d[0] + d[2] + d[4] + d[6] + d[8], d[1] + d[3] + d[5] + d[7]
    return (odd * 7 - even) % 10 == d[9] and sum(d[:10]) % 10 == d[10]


def normalize_phone(value: str) -> str | None:
    """A phone number in E.164 form (``+905321234567``), or ``None`` if it is not one.

    Turkish numbers may be written ``0532 123 45 67``, ``(0532) 123-45-67``, ``5321234567``,
    ``90 532 ...`` or ``+90 ...``; the national number must have 10 digits starting with
    2, 3, 4 (landlines), 5 (mobile) or 8 (``850`` services). Foreign numbers need ``+`` or
    ``00`` and have 8 to 15 digits.
    """
    if not isinstance(value, str):
        return None
    text = value.strip()
    if not _PHONE_TEXT.fullmatch(text):
        return None
    digits = re.sub(r"[^0-9]", "", text)
    if text.startswith("+"):
        number = digits
    elif digits.startswith("00"):
        number = digits[2:]
    elif len(digits) == 12 and digits.startswith("90"):
        number = digits
    elif len(digits) == 11 and digits.startswith("0"):
        number = "90" + digits[1:]
    elif len(digits) == 10:
        number = "90" + digits
    else:
        return None
    if number.startswith("90"):
        national = number[2:]
        if len(national) != 10 or national[0] not in _TURKISH_FIRST_DIGITS:
            return None
    elif not 8 <= len(number) <= 15 or number.startswith("0"):
        return None
    return "+" + number


def normalize_email(value: str) -> str | None:
    """The address with its domain lower-cased (the local part is kept), or ``None``."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    if len(text) > 254 or text.count("@") != 1:
        return None
    local, domain = text.split("@")
    domain = domain.lower()
    labels = domain.split(".")
    if len(local) > 64 or not _EMAIL_LOCAL.fullmatch(local) or len(labels) < 2:
        return None
    if not all(_DOMAIN_LABEL.fullmatch(label) for label in labels) or not labels[-1].isalpha():
        return None
    return f"{local}@{domain}"


def parse_int(value: Any) -> int | None:
    """An integer from an int, an integral float or a decimal string (``" -42 "``)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if math.isfinite(value) and value.is_integer() else None
    if isinstance(value, Decimal):
        return int(value) if value.is_finite() and value == value.to_integral_value() else None
    if isinstance(value, str) and _SIGNED_INT.fullmatch(value.strip()):
        return int(value.strip())
    return None


def parse_decimal(value: Any) -> Decimal | None:
    """A finite decimal from a number or a string in Turkish or international notation.

    ``"12.50"``, ``"12,50"``, ``"1.234,56"``, ``"1,234.56"`` and ``"1 234,56"`` are accepted.
    A single ``.`` or ``,`` is always the decimal mark, so ``"1.234"`` is 1.234 (never
    1234): an ambiguous amount then fails the decimal-places check instead of silently
    becoming a thousand times larger.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(repr(value)) if math.isfinite(value) else None
    if isinstance(value, Decimal):
        return value if value.is_finite() else None
    if not isinstance(value, str) or len(value) > 60:
        return None
    text = value.strip().replace("\u00a0", " ").replace("\u202f", " ")
    sign = ""
    if text and text[0] in "+-":
        sign, text = ("-" if text[0] == "-" else ""), text[1:].lstrip()
    plain = _DECIMAL_PLAIN.fullmatch(text)
    if plain:
        integer, fraction = plain["int"], plain["frac"]
    else:
        grouped = _DECIMAL_GROUPED.fullmatch(text)
        if not grouped or grouped["sep"] == grouped["mark"]:
            return None
        integer, fraction = re.sub(r"[., ]", "", grouped["int"]), grouped["frac"]
    try:
        return Decimal(f"{sign}{integer}.{fraction}" if fraction else f"{sign}{integer}")
    except InvalidOperation:  # pragma: no cover - the regexes admit only digits
        return None


def parse_bool(value: Any) -> bool | None:
    """A boolean from ``True``/``False``, ``1``/``0`` or words such as ``"on"``, ``"evet"``, ``"Hayır"``."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        word = turkish_lower(value.strip())
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
    return None


def parse_date(value: Any) -> date | None:
    """A date from a ``date`` object, ``"2024-12-31"`` or ``"31.12.2024"``."""
    if isinstance(value, datetime):
        return None
    if isinstance(value, date):
        return value
    if not isinstance(value, str):
        return None
    text = value.strip()
    try:
        if _ISO_DATE.fullmatch(text):
            return date.fromisoformat(text)
        turkish = _TR_DATE.fullmatch(text)
        if turkish:
            return date(int(turkish["y"]), int(turkish["m"]), int(turkish["d"]))
    except ValueError:
        return None
    return None


def parse_datetime(value: Any) -> datetime | None:
    """An aware datetime from a ``datetime`` or an ISO / ``"31.12.2024 14:30"`` string.

    Values without an offset are taken as Europe/Istanbul wall-clock time; an explicit
    offset is kept as given.
    """
    parsed: datetime | None = None
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str):
        text = value.strip()
        try:
            if _ISO_DATETIME.fullmatch(text):
                parsed = datetime.fromisoformat(text)
            elif turkish := _TR_DATETIME.fullmatch(text):
                day = parse_date(turkish["date"])
                parsed = None if day is None else datetime.combine(day, time(int(turkish["h"]), int(turkish["mi"])))
        except ValueError:
            return None
    if parsed is not None and parsed.utcoffset() is None:
        parsed = parsed.replace(tzinfo=ISTANBUL)
    return parsed


def clean_text(value: str) -> str:
    """NFC-normalised text without surrounding white space; Windows line ends become ``\\n``."""
    return unicodedata.normalize("NFC", value).replace("\r\n", "\n").replace("\r", "\n").strip()


def json_safe(value: Any) -> Any:
    """``value`` with decimals as strings, dates and datetimes in ISO form, tuples as lists."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, date):  # datetime included
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [json_safe(item) for item in value]
    if isinstance(value, Mapping):
        return {str(key): json_safe(item) for key, item in value.items()}
    return value
