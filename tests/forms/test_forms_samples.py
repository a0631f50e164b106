"""Example values: every field type, bounds, patterns and conditions yield data the form accepts."""

from __future__ import annotations

from datetime import datetime

import pytest

from forms import parse_definition, validate
from forms.samples import from_pattern, sample_values
from forms.values import ISTANBUL

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=ISTANBUL)
FORM = {
    "key": "ornek",
    "title": "Örnek",
    "fields": [
        {"name": "ad", "type": "string", "label": "Ad", "required": True, "min_length": 40, "max_length": 60},
        {"name": "cimer_no", "type": "string", "label": "CİMER no", "required": True, "pattern": r"\d{6,12}"},
        {"name": "kod", "type": "string", "label": "Kod", "pattern": r"(AB|CD)-[A-Z]{2}/\d+"},
        {"name": "metin", "type": "text", "label": "Metin", "required": True, "min_length": 30},
        {"name": "adet", "type": "int", "label": "Adet", "required": True, "min": 5, "max": 9},
        {"name": "tutar", "type": "decimal", "label": "Tutar", "required": True, "min": "10.50"},
        {"name": "gecmis", "type": "date", "label": "Geçmiş", "required": True, "not_future": True},
        {"name": "etkinlik", "type": "datetime", "label": "Etkinlik", "required": True, "not_past": True},
        {"name": "onay", "type": "bool", "label": "Onay", "required": True},
        {"name": "sonuc", "type": "choice", "label": "Sonuç", "required": True, "choices": ["a", "b", "c"]},
        {
            "name": "gerekce",
            "type": "text",
            "label": "Gerekçe",
            "required": True,
            "when": {"field": "sonuc", "equals": "b"},
        },
        {"name": "etiket", "type": "multichoice", "label": "Etiket", "choices": ["x", "y"]},
        {"name": "eposta", "type": "email", "label": "E-posta", "required": True},
        {"name": "telefon", "type": "phone", "label": "Telefon"},
        {"name": "tckn", "type": "tckn", "label": "TCKN", "required": True},
        {"name": "ek", "type": "file", "label": "Ek"},
    ],
}


@pytest.mark.parametrize("variant", range(4))
def test_samples_pass_validation(variant: int) -> None:
    definition = parse_definition(FORM)
    values = sample_values(definition, variant=variant, now=NOW)
    assert validate(definition, values, now=NOW) is not None
    assert "ek" not in values
    assert ("gerekce" in values) is (values["sonuc"] == "b")


def test_variants_walk_through_choices_and_booleans() -> None:
    definition = parse_definition(FORM)
    seen = {
        (sample_values(definition, variant=v, now=NOW)["sonuc"], sample_values(definition, variant=v, now=NOW)["onay"])
        for v in range(6)
    }
    assert {choice for choice, _ in seen} == {"a", "b", "c"} and {flag for _, flag in seen} == {True, False}


@pytest.mark.parametrize("pattern", [r"\d{6,12}", r"[A-Z]{3}-\d{4}", r"(AB|CD)-x?y+", r"[^0-9]+", r"\w+@\w+\.com"])
def test_patterns_yield_matching_text(pattern: str) -> None:
    import re

    assert re.fullmatch(pattern, from_pattern(pattern))


def test_references_come_from_the_caller() -> None:
    definition = parse_definition(
        {
            "key": "havale",
            "title": "Havale",
            "fields": [
                {"name": "birim", "type": "unit", "label": "Birim", "required": True},
                {"name": "personel", "type": "user", "label": "Personel", "group": "$birim"},
            ],
        }
    )
    known = {"unit": ["fen_isleri", "zabita"], "user": ["fenisleri.memur"]}
    values = sample_values(definition, variant=1, now=NOW, references=lambda f, _values: known[f.type])
    assert values == {"birim": "zabita", "personel": "fenisleri.memur"}
    assert sample_values(definition, now=NOW) == {}


@pytest.mark.parametrize(("kind", "good", "bad"), [("user", "ok.mudur", "Ali Veli"), ("unit", "fen_isleri", "Fen")])
def test_reference_shapes(kind: str, good: str, bad: str) -> None:
    from forms import FormValidationError

    definition = parse_definition({"key": "k", "title": "T", "fields": [{"name": "x", "type": kind, "label": "X"}]})
    assert validate(definition, {"x": good}) == {"x": good}
    with pytest.raises(FormValidationError):
        validate(definition, {"x": bad})
