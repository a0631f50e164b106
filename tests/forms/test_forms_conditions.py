"""Conditional fields (``when``) and the shape of cross-field checks (``checks``)."""

from __future__ import annotations

import pytest

from forms import FormDefinitionError, FormValidationError, parse_definition, validate

DECISION = {
    "key": "karar",
    "title": "Karar",
    "fields": [
        {
            "name": "sonuc",
            "type": "choice",
            "label": "Sonuç",
            "required": True,
            "choices": ["olumlu", "kismen_olumlu", "olumsuz"],
        },
        {
            "name": "dayanak",
            "type": "multichoice",
            "label": "Ret dayanağı",
            "required": True,
            "choices": ["m9", "m21"],
            "when": {"field": "sonuc", "in": ["kismen_olumlu", "olumsuz"]},
        },
        {
            "name": "erisim",
            "type": "choice",
            "label": "Erişim şekli",
            "required": True,
            "choices": ["e_posta", "posta"],
            "when": {"field": "sonuc", "not_in": ["olumsuz"]},
        },
        {"name": "ucretli", "type": "bool", "label": "Ücretli mi", "required": True},
        {
            "name": "tutar",
            "type": "decimal",
            "label": "Tutar",
            "required": True,
            "when": {"field": "ucretli", "equals": True},
        },
    ],
    "checks": [{"expression": "True", "field": "tutar", "message": "Tutar kontrolü"}],
}


def test_required_only_when_the_condition_holds() -> None:
    definition = parse_definition(DECISION)
    assert validate(definition, {"sonuc": "olumlu", "erisim": "posta", "ucretli": False}) == {
        "sonuc": "olumlu",
        "erisim": "posta",
        "ucretli": False,
    }
    with pytest.raises(FormValidationError) as err:
        validate(definition, {"sonuc": "olumsuz", "ucretli": True})
    assert set(err.value.field_errors) == {"dayanak", "tutar"}


def test_values_of_inapplicable_fields_are_dropped() -> None:
    definition = parse_definition(DECISION)
    clean = validate(
        definition, {"sonuc": "olumsuz", "dayanak": ["m9"], "erisim": "posta", "ucretli": False, "tutar": "5"}
    )
    assert clean == {"sonuc": "olumsuz", "dayanak": ["m9"], "ucretli": False}


def test_applicable_values_are_still_validated() -> None:
    definition = parse_definition(DECISION)
    with pytest.raises(FormValidationError) as err:
        validate(definition, {"sonuc": "kismen_olumlu", "dayanak": ["yok"], "erisim": "posta", "ucretli": False})
    assert list(err.value.field_errors) == ["dayanak"]


def test_drafts_skip_conditional_requirements() -> None:
    definition = parse_definition(DECISION)
    assert validate(definition, {"sonuc": "olumsuz"}, partial=True) == {"sonuc": "olumsuz"}


@pytest.mark.parametrize(
    ("when", "message"),
    [
        ({"field": "sonraki", "equals": "x"}, "önce tanımlanmış"),
        ({"field": "sonuc"}, "tam olarak bir işleç"),
        ({"field": "sonuc", "in": []}, "boş olmayan bir liste"),
        ({"field": "sonuc", "equals": "x", "in": ["y"]}, "tam olarak bir işleç"),
        ("sonuc == 'x'", "biçiminde olmalı"),
        ({"field": "sonuc", "equals": {"a": 1}}, "metin, sayı"),
    ],
)
def test_bad_conditions_are_named(when: object, message: str) -> None:
    document = {
        "key": "k",
        "title": "T",
        "fields": [
            {"name": "sonuc", "type": "string", "label": "Sonuç"},
            {"name": "ek", "type": "string", "label": "Ek", "when": when},
            {"name": "sonraki", "type": "string", "label": "Sonraki"},
        ],
    }
    with pytest.raises(FormDefinitionError, match=message) as err:
        parse_definition(document)
    assert "fields[1].when" in str(err.value)


def test_checks_are_parsed_and_described_without_their_expression() -> None:
    definition = parse_definition(DECISION)
    assert definition.checks[0].expression == "True"
    assert definition.to_dict()["checks"] == [{"field": "tutar", "message": "Tutar kontrolü"}]
    assert definition.to_dict()["fields"][1]["when"] == {"field": "sonuc", "in": ["kismen_olumlu", "olumsuz"]}


@pytest.mark.parametrize(
    ("checks", "message"),
    [
        ("True", "bir liste"),
        ([{"expression": "", "message": "m"}], "expression"),
        ([{"expression": "True", "message": "m", "field": "yok"}], "formda yok"),
        ([{"expression": "True"}], "Kontrol mesajı"),
        ([{"expression": "True", "message": "m", "severity": "x"}], "bilinmeyen anahtar"),
    ],
)
def test_bad_checks_are_named(checks: object, message: str) -> None:
    with pytest.raises(FormDefinitionError, match=message):
        parse_definition({**DECISION, "checks": checks})
