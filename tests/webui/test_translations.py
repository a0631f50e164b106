"""The English catalog covers every message of the code, and its translations keep the placeholders.

Messages are extracted as ``pybabel extract -F webui/babel.cfg -k _ -k gettext`` does, from the same
folders (webui, engine, forms, handlers); no database needed.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable, Mapping
from functools import cache
from pathlib import Path

from babel.messages.catalog import Catalog, Message
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]
BABEL_CFG = ROOT / "webui" / "babel.cfg"
ENGLISH_PO = ROOT / "webui" / "translations" / "en" / "LC_MESSAGES" / "messages.po"
FOLDERS = ("webui", "engine", "forms", "handlers")
# `-k _ -k gettext` adds to Babel's default keywords, which already hold both.
KEYWORDS = {**DEFAULT_KEYWORDS, "_": None, "gettext": None}
# {name}, {value!r}, {n:>3} (str.format) and %(name)s, %s (printf style); %% is a literal percent.
PLACEHOLDER = re.compile(r"\{[^{}]*\}|(?<!%)%(?:\([^)]*\))?[-#0+]*\d*(?:\.\d+)?[sdifrxX]")


@cache
def extracted() -> dict[str, list[str]]:
    """Every extracted msgid (the singular one for plurals), with where it occurs."""
    with BABEL_CFG.open(encoding="utf-8") as cfg:
        method_map, options_map = parse_mapping_cfg(cfg)
    found: dict[str, list[str]] = {}
    for folder in FOLDERS:
        for filename, lineno, message, _comments, _context in extract_from_dir(
            ROOT / folder, method_map, options_map, keywords=KEYWORDS
        ):
            msgid = message[0] if isinstance(message, tuple | list) else message
            if msgid:
                found.setdefault(msgid, []).append(f"{folder}/{filename}:{lineno}")
    return found


@cache
def english() -> Catalog:
    with ENGLISH_PO.open("rb") as po:
        return read_po(po, locale="en")


def translations(message: Message) -> tuple[str, ...]:
    return tuple(message.string) if isinstance(message.string, tuple | list) else (message.string,)


def missing_translations(catalog: Catalog, messages: Mapping[str, list[str]]) -> list[str]:
    """Messages without a usable English text: absent, empty (any plural form) or fuzzy."""
    missing = []
    for msgid, where in messages.items():
        message = catalog.get(msgid)
        if message is None or message.fuzzy or not all(s.strip() for s in translations(message)):
            missing.append(f"{msgid!r} ({', '.join(where[:3])})")
    return missing


def placeholders(text: str) -> set[str]:
    return set(PLACEHOLDER.findall(text))


def placeholder_mismatches(catalog: Catalog) -> list[str]:
    """Translations whose placeholders differ from their msgid's. For plurals the forms are compared
    together (a singular form may leave out the count)."""
    problems = []
    for message in catalog:
        if not message.id or not any(translations(message)):
            continue
        msgids = message.id if isinstance(message.id, tuple | list) else (message.id,)
        expected = set().union(*(placeholders(m) for m in msgids))
        texts = translations(message)
        got = set().union(*(placeholders(t) for t in texts))
        if got != expected:
            shown = texts[0] if len(texts) == 1 else texts
            problems.append(f"{msgids[0]!r} -> {shown!r}: expected {sorted(expected)}, got {sorted(got)}")
    return problems


def _report(title: str, lines: Iterable[str]) -> str:
    lines = list(lines)
    return f"{len(lines)} {title}:\n  " + "\n  ".join(lines)


def test_extraction_finds_the_messages_of_every_folder():
    places = {where.split("/", 1)[0] for wheres in extracted().values() for where in wheres}
    assert {"webui", "engine"} <= places
    assert "Denetim izi" in extracted()  # a template message
    assert "Görev bulunamadı: {id}." in extracted()  # an engine message


def test_every_message_has_an_english_translation():
    missing = missing_translations(english(), extracted())
    assert not missing, _report(
        f"messages have no English translation in {ENGLISH_PO.relative_to(ROOT)} "
        "(extract with webui/babel.cfg, pybabel update, then translate)",
        missing,
    )


def test_translations_keep_the_placeholders_of_their_msgid():
    problems = placeholder_mismatches(english())
    assert not problems, _report("translations change their placeholders", problems)


def test_the_checks_notice_a_blank_or_broken_translation():
    catalog = copy.deepcopy(english())
    messages = {"Görev bulunamadı: {id}.": ["engine/permissions.py:1"]}
    assert not missing_translations(catalog, messages)
    catalog["Görev bulunamadı: {id}."].string = ""
    assert missing_translations(catalog, messages) == ["'Görev bulunamadı: {id}.' (engine/permissions.py:1)"]
    catalog["Görev bulunamadı: {id}."].string = "Task not found: {task}."
    assert placeholder_mismatches(catalog) == [
        "'Görev bulunamadı: {id}.' -> 'Task not found: {task}.': expected ['{id}'], got ['{task}']"
    ]
