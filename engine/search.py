"""Free-text search with Turkish case folding (İ→i, I→ı), the same in Python and in SQL.

``fold_tr`` folds a search text; ``fold_sql`` folds a column the same way: the Turkish letters by
``replace()`` calls, then ``lower()`` for ASCII (SQLite's ``lower()`` only knows ASCII; PostgreSQL's
may also fold other non-ASCII capitals, which a search for such a letter in capitals then misses).
"""

from __future__ import annotations

import string

from sqlalchemy import ColumnElement, func
from sqlalchemy.sql.expression import ColumnClause, literal

# Turkish capitals whose lower case ``lower()`` gets wrong (I, İ) or may not know (SQLite).
TURKISH_FOLD: dict[str, str] = {
    "I": "ı",
    "İ": "i",
    "Ç": "ç",
    "Ğ": "ğ",
    "Ö": "ö",
    "Ş": "ş",
    "Ü": "ü",
    "Â": "â",
    "Î": "î",
    "Û": "û",
}
# Then ASCII capitals to lower case, as SQL's lower() does everywhere; nothing else is changed.
_TABLE = str.maketrans({**{c: c.lower() for c in string.ascii_uppercase}, **TURKISH_FOLD})
LIKE_ESCAPE = "\\"


def fold_tr(text: str) -> str:
    """Turkish lower case for matching: ``"İSTANBUL IŞIK"`` → ``"istanbul ışık"``."""
    return text.translate(_TABLE)


def fold_sql(column: ColumnElement[str] | ColumnClause[str]) -> ColumnElement[str]:
    """``column`` folded in SQL exactly as ``fold_tr`` folds text (NULL becomes '')."""
    expr: ColumnElement[str] = func.coalesce(column, literal(""))
    for upper, lower in TURKISH_FOLD.items():
        expr = func.replace(expr, upper, lower)
    return func.lower(expr)


def contains_pattern(text: str) -> str:
    """A LIKE pattern (escape ``LIKE_ESCAPE``) matching folded values that contain ``text``."""
    folded = fold_tr(text.strip())
    escaped = (
        folded.replace(LIKE_ESCAPE, LIKE_ESCAPE * 2).replace("%", LIKE_ESCAPE + "%").replace("_", LIKE_ESCAPE + "_")
    )
    return f"%{escaped}%"


def matches(column: ColumnElement[str] | ColumnClause[str], text: str) -> ColumnElement[bool]:
    """Whether ``column`` contains ``text``, ignoring case the Turkish way."""
    return fold_sql(column).like(contains_pattern(text), escape=LIKE_ESCAPE)
