"""Each kind of bad form definition gives a precise Turkish error naming the source, path and field."""

from __future__ import annotations

import json
from typing import Any

import pytest

from forms import FormDefinitionError, parse_definition


def form(*fields: Any, **top: Any) -> dict[str, Any]:
    return {"key": "k", "title": "T", "fields": list(fields), **top}


def fld(name: str = "x", type: str = "string", **options: Any) -> dict[str, Any]:
    return {"name": name, "type": type, "label": "X", **options}


def without(mapping: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in mapping.items() if k != key}


CASES: list[tuple[str, Any, str | None, str | None, str]] = [
    # id, document, path, field, message fragment
    ("missing key", without(form(), "key"), "key", None, "'key' anahtarı zorunludur."),
    ("missing title", without(form(), "title"), "title", None, "'title' anahtarı zorunludur."),
    ("missing fields", without(form(), "fields"), "fields", None, "'fields' anahtarı zorunludur."),
    ("fields not a list", {**form(), "fields": {}}, "fields", None, "'fields' bir liste olmalı."),
    ("not an object", [], None, None, "Form tanımı bir JSON nesnesi olmalı."),
    ("unknown top key", form(titel="x"), "titel", None, "Bunu mu demek istediniz: 'title'?"),
    ("bad form key", {**form(), "key": "izin talebi"}, "key", None, "Geçersiz form anahtarı 'izin talebi'"),
    ("empty title", {**form(), "title": " "}, "title", None, "Başlık boş olamaz."),
    ("title without tr", {**form(), "title": {"en": "Leave"}}, "title", None, "Türkçe metin ('tr') zorunludur."),
    ("field not an object", form("x"), "fields[0]", None, "Alan tanımı bir nesne olmalı."),
    ("missing name", form(without(fld(), "name")), "fields[0].name", None, "'name' anahtarı zorunludur."),
    ("missing type", form(without(fld(), "type")), "fields[0].type", "x", "'type' anahtarı zorunludur."),
    ("missing label", form(without(fld(), "label")), "fields[0].label", "x", "'label' anahtarı zorunludur."),
    ("unknown type", form(fld(type="strng")), "fields[0].type", "x", "Bilinmeyen alan türü 'strng'."),
    ("unknown key", form(fld(requird=True)), "fields[0].requird", "x", "Bunu mu demek istediniz: 'required'?"),
    ("bad name", form(fld("1ad")), "fields[0].name", "1ad", "Geçersiz alan adı '1ad'"),
    ("name with space", form(fld("ad soyad")), "fields[0].name", "ad soyad", "Geçersiz alan adı"),
    ("underscore name", form(fld("_gizli")), "fields[0].name", "_gizli", "Geçersiz alan adı"),
    ("typename", form(fld("typename")), "fields[0].name", "typename", "ayrılmış bir addır"),
    ("keyword", form(fld("class")), "fields[0].name", "class", "ayrılmış bir addır"),
    (
        "duplicate names",
        form(fld("ad"), fld("ad", "int")),
        "fields[1].name",
        "ad",
        "Alan adı 'ad' birden fazla kez kullanılmış (ilki: fields[0]).",
    ),
    ("required not bool", form(fld(required="evet")), "fields[0].required", "x", "true ya da false olmalı."),
    ("empty label", form(fld(label="")), "fields[0].label", "x", "Etiket boş olamaz."),
    ("bad label lang", form(fld(label={"tr": "A", "EN": "B"})), "fields[0].label", "x", "dil kodu"),
    ("label not text", form(fld(label=3)), "fields[0].label", "x", "Etiket bir metin ya da"),
    (
        "option of other type",
        form(fld(type="int", max_length=3)),
        "fields[0].max_length",
        "x",
        "'max_length' seçeneği 'int' türündeki alanlarda kullanılamaz.",
    ),
    (
        "choices on string",
        form(fld(choices=["a"])),
        "fields[0].choices",
        "x",
        "'choices' seçeneği 'string' türündeki alanlarda kullanılamaz.",
    ),
    ("choice without choices", form(fld(type="choice")), "fields[0].choices", "x", "boş olmayan bir liste"),
    ("empty choices", form(fld(type="multichoice", choices=[])), "fields[0].choices", "x", "boş olmayan"),
    ("choices not a list", form(fld(type="choice", choices="a,b")), "fields[0].choices", "x", "liste olmalı"),
    (
        "duplicate choice",
        form(fld(type="choice", choices=["a", {"value": "a"}])),
        "fields[0].choices[1]",
        "x",
        "Seçenek değeri 'a' birden fazla kez kullanılmış.",
    ),
    ("choice item number", form(fld(type="choice", choices=[5])), "fields[0].choices[0]", "x", "Seçenek bir metin"),
    (
        "choice value number",
        form(fld(type="choice", choices=[{"value": 1}])),
        "fields[0].choices[0]",
        "x",
        "Seçenek değeri boş olmayan",
    ),
    (
        "choice typo key",
        form(fld(type="choice", choices=[{"value": "a", "lable": "A"}])),
        "fields[0].choices[0]",
        "x",
        "Seçenekte bilinmeyen anahtar: lable",
    ),
    (
        "choice without value",
        form(fld(type="choice", choices=[{"label": "A"}])),
        "fields[0].choices[0]",
        "x",
        "Seçenekte 'value' zorunludur.",
    ),
    ("int min > max", form(fld(type="int", min=5, max=1)), "fields[0].min", "x", "'min' (5) 'max' değerinden (1)"),
    (
        "decimal min > max",
        form(fld(type="decimal", min="10,5", max=2)),
        "fields[0].min",
        "x",
        "büyük olamaz",
    ),
    (
        "date min > max",
        form(fld(type="date", min="2024-02-01", max="2024-01-01")),
        "fields[0].min",
        "x",
        "büyük olamaz",
    ),
    ("int min text", form(fld(type="int", min="5")), "fields[0].min", "x", "'min' bir tam sayı olmalı."),
    ("int max bool", form(fld(type="int", max=True)), "fields[0].max", "x", "'max' bir tam sayı olmalı."),
    ("decimal min word", form(fld(type="decimal", min="çok")), "fields[0].min", "x", "'min' bir sayı olmalı."),
    ("date min bad", form(fld(type="date", min="2024-13-01")), "fields[0].min", "x", "bir tarih"),
    (
        "min_length > max_length",
        form(fld(min_length=10, max_length=5)),
        "fields[0].min_length",
        "x",
        "En az uzunluk (10) en fazla uzunluktan (5) büyük olamaz.",
    ),
    ("max_length zero", form(fld(max_length=0)), "fields[0].max_length", "x", "1 ile 100000 arasında"),
    ("max_length text", form(fld(max_length="10")), "fields[0].max_length", "x", "tam sayı olmalı"),
    ("decimal places", form(fld(type="decimal", decimal_places=11)), "fields[0].decimal_places", "x", "0 ile 10"),
    ("bad pattern", form(fld(pattern="(")), "fields[0].pattern", "x", "Geçersiz düzenli ifade"),
    ("not_future not bool", form(fld(type="date", not_future=1)), "fields[0].not_future", "x", "true ya da false"),
    ("invalid default", form(fld(type="int", default="abc")), "fields[0].default", "x", "Geçerli bir tam sayı"),
    ("default bad choice", form(fld(type="choice", choices=["a"], default="b")), "fields[0].default", "x", "a"),
    ("empty default", form(fld(default="  ")), "fields[0].default", "x", "Boş bir değer olamaz."),
    ("default object", form(fld(default={"a": 1})), "fields[0].default", "x", "Varsayılan değer basit"),
    (
        "default on file",
        form(fld(type="file", default="a.pdf")),
        "fields[0].default",
        "x",
        "Dosya alanlarının varsayılan değeri olamaz.",
    ),
    (
        "second field",
        form(fld("a"), fld("b", type="int", min=3, max=2)),
        "fields[1].min",
        "b",
        "büyük olamaz",
    ),
]


@pytest.mark.parametrize(("document", "path", "field", "fragment"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_definition_errors(document: Any, path: str | None, field: str | None, fragment: str) -> None:
    with pytest.raises(FormDefinitionError) as info:
        parse_definition(document, source="bad.form.json")
    error = info.value
    assert fragment in error.message
    assert error.path == path
    assert error.field == field
    assert error.source == "bad.form.json"
    text = str(error)
    assert text.startswith("bad.form.json")
    assert error.message in text
    if field:
        assert f"'{field}' alanı" in text


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        ('{"key": "a", "key": "b", "title": "T", "fields": []}', "'key' anahtarı aynı nesnede iki kez geçiyor."),
        ('{"key": "a", "title": "T", "fields": [', "Geçersiz JSON"),
        ('{"key": "a", "title": "T", "fields": [], "x-n": NaN}', "NaN kullanılamaz"),
        (b'{"key": "a", "title": "\xff"}', "Dosya UTF-8 değil"),
    ],
)
def test_malformed_json(raw: str | bytes, fragment: str) -> None:
    with pytest.raises(FormDefinitionError, match=r"^bad\.form\.json") as info:
        parse_definition(raw, source="bad.form.json")
    assert fragment in info.value.message


def test_extensions_may_use_any_json() -> None:
    document = form(fld(**{"x-widget": {"rows": 3}}), **{"x-tags": ["a", 1]})
    assert json.loads(json.dumps(parse_definition(document).to_dict()))["x-tags"] == ["a", 1]


def test_error_text_combines_source_path_and_field() -> None:
    with pytest.raises(FormDefinitionError) as info:
        parse_definition(form(fld("durum", type="choice", choices=[])), source="izin.form.json")
    assert str(info.value) == (
        "izin.form.json: fields[0].choices ('durum' alanı): Seçenek listesi ('choices') boş olmayan bir liste olmalı."
    )
