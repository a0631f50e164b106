"""Parsing and checking form definitions (``*.form.json`` and Python-built), rendering with to_dict."""

from __future__ import annotations

import json
import pickle
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

import forms
from forms import FieldDefinition, FormDefinition, FormDefinitionError, parse_definition
from forms.text import LocalizedText


def form(*fields: dict[str, Any], **top: Any) -> dict[str, Any]:
    return {"key": "test-form", "title": "Test formu", "fields": list(fields), **top}


def fld(name: str = "x", type: str = "string", **options: Any) -> dict[str, Any]:
    return {"name": name, "type": type, "label": name.upper(), **options}


ONE_OF_EACH: list[dict[str, Any]] = [
    fld("ad", "string", required=True, max_length=100, min_length=2, pattern="[^0-9]+"),
    fld("aciklama", "text", help="Kısaca yazınız.", placeholder="…"),
    fld("adet", "int", min=0, max=10, default=1),
    fld("tutar", "decimal", min="0,01", max=1000, decimal_places=2),
    fld("gun", "date", not_future=True, min="2000-01-01"),
    fld("an", "datetime", not_past=True),
    fld("onay", "bool", default=False),
    fld("renk", "choice", choices=["kırmızı", {"value": "mavi", "label": {"tr": "Mavi", "en": "Blue"}}]),
    fld("diller", "multichoice", choices=[{"value": "tr"}, {"value": "en", "label": "İngilizce"}]),
    fld("eposta", "email", max_length=120),
    fld("telefon", "phone"),
    fld("tckn", "tckn", required=True),
    fld("personel", "user", group="$hedef_birim"),
    fld("birim", "unit"),
    fld("belge", "file", description="PDF yükleyiniz.", **{"x-accept": ".pdf"}),
]


def test_parses_every_field_type_from_json_text() -> None:
    raw = json.dumps(form(*ONE_OF_EACH, description="Açıklama", **{"$schema": "x", "x-owner": "ozel-kalem"}))
    definition = parse_definition(raw, source="test.form.json")

    assert definition.key == "test-form"
    assert definition.title == "Test formu"
    assert {f.type for f in definition.fields} == forms.FIELD_TYPES
    assert definition.field_names[0] == "ad"
    assert definition.field("nope") is None
    tutar = definition.field("tutar")
    assert tutar is not None
    assert (tutar.min, tutar.max) == (Decimal("0.01"), Decimal(1000))
    gun = definition.field("gun")
    assert gun is not None and gun.min == date(2000, 1, 1) and gun.not_future
    renk = definition.field("renk")
    assert renk is not None
    assert renk.choices == (("kırmızı", "kırmızı"), ("mavi", "Mavi"))
    assert renk.choices[1][1].get("en") == "Blue"
    diller = definition.field("diller")
    assert diller is not None and diller.choice_values == ("tr", "en")
    belge = definition.field("belge")
    assert belge is not None and dict(belge.extensions) == {"x-accept": ".pdf"}
    assert definition.extensions["x-owner"] == "ozel-kalem"


@pytest.mark.parametrize(
    "raw", [json.dumps(form(fld())).encode("utf-8"), b"\xef\xbb\xbf" + b'{"key": "k", "title": "T", "fields": []}']
)
def test_accepts_bytes_with_or_without_bom(raw: bytes) -> None:
    assert isinstance(parse_definition(raw), FormDefinition)


def test_definitions_are_hashable_and_equal_by_content() -> None:
    first, second = parse_definition(form(*ONE_OF_EACH)), parse_definition(form(*ONE_OF_EACH))
    assert first == second and hash(first) == hash(second)
    assert pickle.loads(pickle.dumps(first)) == first


def test_null_optional_keys_mean_absent_and_required_defaults_false() -> None:
    definition = parse_definition(form(fld(help=None, max_length=None, choices=[])))
    field = definition.fields[0]
    assert field.required is False and field.help is None and field.max_length is None


def test_defaults_are_stored_clean() -> None:
    definition = parse_definition(
        form(
            fld("tutar", "decimal", default="1.234,5"),
            fld("gun", "date", default="31.12.2024"),
            fld("tel", "phone", default="0532 123 45 67"),
            fld("secim", "multichoice", choices=["a", "b"], default=["b", "a", "b"]),
        )
    )
    defaults = [f.default for f in definition.fields]
    assert defaults == [Decimal("1234.50"), date(2024, 12, 31), "+905321234567", ("a", "b")]


def test_to_dict_shape_and_languages() -> None:
    definition = parse_definition(form(*ONE_OF_EACH, title={"tr": "Başvuru", "en": "Application"}))
    rendered = definition.to_dict()
    assert json.loads(json.dumps(rendered)) == rendered  # JSON-safe
    assert rendered["key"] == "test-form" and rendered["title"] == "Başvuru"
    by_name = {f["name"]: f for f in rendered["fields"]}
    assert by_name["ad"] == {
        "name": "ad",
        "type": "string",
        "label": "AD",
        "required": True,
        "choices": [],
        "max_length": 100,
        "min_length": 2,
        "min": None,
        "max": None,
        "decimal_places": None,
        "pattern": "[^0-9]+",
        "not_future": False,
        "not_past": False,
        "help": None,
        "placeholder": None,
        "description": None,
        "default": None,
        "when": None,
        "group": None,
    }
    assert by_name["renk"]["choices"] == [
        {"value": "kırmızı", "label": "kırmızı"},
        {"value": "mavi", "label": "Mavi"},
    ]
    assert (by_name["tutar"]["min"], by_name["gun"]["min"]) == ("0.01", "2000-01-01")
    assert by_name["belge"]["x-accept"] == ".pdf"

    english = definition.to_dict("en")
    assert english["title"] == "Application"
    assert english["fields"][7]["choices"][1]["label"] == "Blue"
    assert english["fields"][0]["label"] == "AD"  # falls back to Turkish
    with forms.use_language("en"):
        assert definition.to_dict()["title"] == "Application"
    assert definition.to_dict()["title"] == "Başvuru"


def test_to_dict_round_trips_through_parse() -> None:
    definition = parse_definition(form(*ONE_OF_EACH))
    assert parse_definition(definition.to_dict()) == definition


def test_localized_text_behaves_as_turkish_string() -> None:
    text = LocalizedText("Başvuru", {"tr": "Başvuru", "en": "Application"})
    assert text == "Başvuru" and f"{text}" == "Başvuru"
    assert text.translations == {"tr": "Başvuru", "en": "Application"}
    assert text.to_json() == {"tr": "Başvuru", "en": "Application"}
    assert LocalizedText("Ad").to_json() == "Ad"
    assert pickle.loads(pickle.dumps(text)).get("en") == "Application"


def test_load_definition_file(tmp_path: Path) -> None:
    path = tmp_path / "izin.form.json"
    path.write_text(json.dumps(form(fld(), key="izin")), encoding="utf-8")
    assert forms.load_definition_file(path).key == "izin"
    path.write_text("{", encoding="utf-8")
    with pytest.raises(FormDefinitionError, match=r"izin\.form\.json"):
        forms.load_definition_file(path)


def test_python_built_definitions_are_checked_and_normalised() -> None:
    field = FieldDefinition("durum", "choice", "Durum", choices=("açık", ("kapalı", "Kapalı")))
    assert field.choices == (("açık", "açık"), ("kapalı", "Kapalı"))
    assert isinstance(field.label, LocalizedText)
    with pytest.raises(FormDefinitionError) as info:
        FieldDefinition("durum", "choice", "Durum")
    assert (info.value.field, info.value.path) == ("durum", "choices")
    with pytest.raises(FormDefinitionError, match="birden fazla"):
        FormDefinition("k", "T", (FieldDefinition("a", "int", "A"), FieldDefinition("a", "bool", "B")))
