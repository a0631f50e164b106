"""Validating submitted data: clean values per field type, precise Turkish errors, all at once."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from marshmallow import Schema

import forms
from forms import FormDefinition, FormValidationError, parse_definition, validate

TODAY = date(2024, 6, 15)
ISTANBUL = forms.values.ISTANBUL


def single(type: str, **options: Any) -> FormDefinition:
    field = {"name": "v", "type": type, "label": "V", **options}
    return parse_definition({"key": f"f-{type}", "title": "T", "fields": [field]})


def clean(definition: FormDefinition, value: Any, **kwargs: Any) -> Any:
    return validate(definition, {"v": value}, today=TODAY, **kwargs).get("v", "<missing>")


def errors(definition: FormDefinition, data: dict[str, Any], **kwargs: Any) -> dict[str, list[str]]:
    with pytest.raises(FormValidationError) as info:
        validate(definition, data, today=TODAY, **kwargs)
    return info.value.field_errors


def error(definition: FormDefinition, value: Any, **kwargs: Any) -> list[str]:
    return errors(definition, {"v": value}, **kwargs)["v"]


# --- text -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("İĞÜŞÖÇ ığüşöç", "İĞÜŞÖÇ ığüşöç"),
        ("  Iğdır  ", "Iğdır"),
        ("ı İ i I", "ı İ i I"),
        ("I\u0307stanbul", "İstanbul"),  # decomposed dotted I is NFC-normalised
    ],
)
def test_string_keeps_turkish_letters(value: str, expected: str) -> None:
    assert clean(single("string"), value) == expected


def test_string_turns_tabs_into_spaces() -> None:
    assert clean(single("string"), "a\tb") == "a b"


def test_text_keeps_lines_and_normalises_line_ends() -> None:
    assert clean(single("text"), " satır 1\r\nsatır 2\n") == "satır 1\nsatır 2"


@pytest.mark.parametrize(
    ("options", "value", "message"),
    [
        ({"max_length": 250}, "ş" * 251, "En fazla 250 karakter olabilir."),
        ({}, "a" * 251, "En fazla 250 karakter olabilir."),  # implicit limit of one-line strings
        ({"min_length": 3}, "ab", "En az 3 karakter olmalı."),
        ({"pattern": "[0-9]{5}"}, "0612", "Beklenen biçime uymuyor."),
        ({}, 42, "Metin olmalı."),
        ({}, "bir\niki", "Tek satır olmalı; satır sonu içeremez."),
        ({}, "nul\x00", "Geçersiz (kontrol) karakter içeriyor."),
    ],
)
def test_string_errors(options: dict[str, Any], value: Any, message: str) -> None:
    assert error(single("string", **options), value) == [message]


def test_string_length_counts_characters_not_bytes() -> None:
    assert clean(single("string", max_length=6), "ĞĞĞĞĞĞ") == "ĞĞĞĞĞĞ"


def test_text_limits() -> None:
    assert clean(single("text", max_length=20_000), "a" * 15_000) == "a" * 15_000
    assert error(single("text"), "a" * 10_001) == ["En fazla 10000 karakter olabilir."]


# --- empty and missing values ---------------------------------------------------------------------


@pytest.mark.parametrize("blank", ["", "   ", None])
def test_empty_optional_field_comes_back_as_none(blank: Any) -> None:
    assert clean(single("string"), blank) is None
    assert clean(single("int"), blank) is None


def test_missing_optional_field_is_left_out_or_defaulted() -> None:
    assert validate(single("string"), {}) == {}
    assert validate(single("int", default=3), {}) == {"v": 3}
    assert validate(single("multichoice", choices=["a", "b"], default=["b"]), {}) == {"v": ["b"]}


@pytest.mark.parametrize("type_", sorted(forms.FIELD_TYPES - {"choice", "multichoice"}))
@pytest.mark.parametrize("blank", ["missing", "", " ", None])
def test_required_fields_of_every_type(type_: str, blank: Any) -> None:
    definition = single(type_, required=True)
    data = {} if blank == "missing" else {"v": blank}
    assert errors(definition, data) == {"v": ["Bu alan zorunludur."]}


@pytest.mark.parametrize("blank", ["missing", "", None, []])
def test_required_multichoice(blank: Any) -> None:
    definition = single("multichoice", required=True, choices=["a"])
    data = {} if blank == "missing" else {"v": blank}
    assert errors(definition, data) == {"v": ["Bu alan zorunludur."]}


def test_empty_optional_multichoice_is_empty_list() -> None:
    definition = single("multichoice", choices=["a"])
    assert clean(definition, []) == []
    assert clean(definition, None) == []


def test_required_field_with_default_takes_default_when_missing() -> None:
    definition = single("int", required=True, default=5)
    assert validate(definition, {}) == {"v": 5}
    assert errors(definition, {"v": ""}) == {"v": ["Bu alan zorunludur."]}
    assert definition.to_dict()["fields"][0]["required"] is True


def test_partial_skips_required_and_defaults() -> None:
    definition = parse_definition(
        {
            "key": "k",
            "title": "T",
            "fields": [
                {"name": "a", "type": "string", "label": "A", "required": True},
                {"name": "b", "type": "int", "label": "B", "default": 1},
                {"name": "c", "type": "int", "label": "C", "required": True},
            ],
        }
    )
    assert validate(definition, {"c": ""}, partial=True) == {"c": None}
    assert errors(definition, {"c": "x"}, partial=True) == {"c": ["Geçerli bir tam sayı değil."]}


# --- numbers ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "expected"), [(42, 42), ("42", 42), (" -7 ", -7), ("+3", 3), (5.0, 5), (0, 0)])
def test_int_values(value: Any, expected: int) -> None:
    result = clean(single("int"), value)
    assert result == expected and type(result) is int


@pytest.mark.parametrize("value", ["4.5", 4.5, "1.000", "abc", True, "1e3", "٣", float("nan"), [1]])
def test_int_rejects(value: Any) -> None:
    assert error(single("int"), value) == ["Geçerli bir tam sayı değil."]


def test_int_bounds() -> None:
    definition = single("int", min=1, max=10)
    assert clean(definition, 1) == 1 and clean(definition, 10) == 10
    assert error(definition, 0) == ["En az 1 olmalı."]
    assert error(definition, 11) == ["En fazla 10 olabilir."]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("12.50", "12.50"),
        ("12,50", "12.50"),
        ("12,5", "12.50"),
        ("1.234,56", "1234.56"),
        ("1,234.56", "1234.56"),
        ("1 234,56", "1234.56"),
        ("1.234.567", "1234567.00"),
        ("-0,5", "-0.50"),
        ("-0", "0.00"),
        ("12.500", "12.50"),  # trailing zeros are not extra precision
        (12, "12.00"),
        (0.1, "0.10"),
        (Decimal("3.1"), "3.10"),
    ],
)
def test_decimal_values(value: Any, expected: str) -> None:
    result = clean(single("decimal"), value)
    assert isinstance(result, Decimal) and result == Decimal(expected) and str(result) == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("12,345", "En fazla 2 ondalık basamak olabilir."),
        ("1.234", "En fazla 2 ondalık basamak olabilir."),  # one mark is always the decimal mark
        ("NaN", "Geçerli bir ondalık sayı değil."),
        ("Infinity", "Geçerli bir ondalık sayı değil."),
        (float("inf"), "Geçerli bir ondalık sayı değil."),
        (Decimal("NaN"), "Geçerli bir ondalık sayı değil."),
        ("1,234,56", "Geçerli bir ondalık sayı değil."),
        ("1.23.4", "Geçerli bir ondalık sayı değil."),
        ("1.234,567.8", "Geçerli bir ondalık sayı değil."),
        ("1e5", "Geçerli bir ondalık sayı değil."),
        ("12 TL", "Geçerli bir ondalık sayı değil."),
        (True, "Geçerli bir ondalık sayı değil."),
        ("9" * 40, "Sayı çok büyük."),
    ],
)
def test_decimal_rejects(value: Any, message: str) -> None:
    assert error(single("decimal"), value) == [message]


def test_decimal_places_option_and_bounds() -> None:
    assert clean(single("decimal", decimal_places=4), "0,1234") == Decimal("0.1234")
    assert error(single("decimal", decimal_places=0), "1,5") == ["Ondalık basamak içeremez."]
    bounded = single("decimal", min="0,01", max="1000")
    assert error(bounded, "0") == ["En az 0,01 olmalı."]
    assert error(bounded, "1000,01") == ["En fazla 1000 olabilir."]


# --- dates and times --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-02-29", date(2024, 2, 29)),
        ("29.02.2024", date(2024, 2, 29)),
        ("1.3.2024", date(2024, 3, 1)),
        (date(2024, 1, 2), date(2024, 1, 2)),
    ],
)
def test_date_values(value: Any, expected: date) -> None:
    assert clean(single("date"), value) == expected


@pytest.mark.parametrize(
    "value", ["2023-02-29", "2024-1-5", "20240105", "31/12/2024", 20240101, datetime(2024, 1, 1, tzinfo=UTC)]
)
def test_date_rejects(value: Any) -> None:
    assert error(single("date"), value) == ["Geçerli bir tarih değil (ör. 2024-12-31 ya da 31.12.2024)."]


def test_not_future_and_not_past_with_injected_today() -> None:
    past_only = single("date", not_future=True)
    assert clean(past_only, TODAY) == TODAY
    assert error(past_only, TODAY + timedelta(days=1)) == ["Gelecekte bir tarih olamaz."]
    assert validate(past_only, {"v": "2030-01-01"}, today=date(2031, 1, 1)) == {"v": date(2030, 1, 1)}
    future_only = single("date", not_past=True)
    assert error(future_only, TODAY - timedelta(days=1)) == ["Geçmişte bir tarih olamaz."]
    assert clean(future_only, TODAY) == TODAY


def test_date_bounds_are_shown_in_turkish_format() -> None:
    definition = single("date", min="2024-01-01", max="2024-12-31")
    assert error(definition, "2023-12-31") == ["01.01.2024 tarihinden önce olamaz."]
    assert error(definition, "2025-01-01") == ["31.12.2024 tarihinden sonra olamaz."]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-06-01T10:30:00+03:00", datetime(2024, 6, 1, 10, 30, tzinfo=timezone(timedelta(hours=3)))),
        ("2024-06-01T07:30:00Z", datetime(2024, 6, 1, 7, 30, tzinfo=UTC)),
        ("2024-06-01T10:30", datetime(2024, 6, 1, 10, 30, tzinfo=ISTANBUL)),
        ("2024-06-01 10:30:15", datetime(2024, 6, 1, 10, 30, 15, tzinfo=ISTANBUL)),
        ("01.06.2024 10:30", datetime(2024, 6, 1, 10, 30, tzinfo=ISTANBUL)),
        (datetime(2024, 6, 1, 10, 30), datetime(2024, 6, 1, 10, 30, tzinfo=ISTANBUL)),  # noqa: DTZ001
    ],
)
def test_datetime_values_are_aware(value: Any, expected: datetime) -> None:
    result = clean(single("datetime"), value)
    assert result == expected and result.utcoffset() is not None
    assert result.utcoffset() == expected.utcoffset()


@pytest.mark.parametrize("value", ["2024-06-01", "2024-06-01T25:00", "dün", 1717225800, date(2024, 6, 1)])
def test_datetime_rejects(value: Any) -> None:
    assert error(single("datetime"), value) == [
        "Geçerli bir tarih ve saat değil (ör. 2024-12-31T14:30 ya da 31.12.2024 14:30)."
    ]


def test_datetime_not_future() -> None:
    definition = single("datetime", not_future=True)
    # With only a reference day, days are compared (Istanbul calendar).
    assert clean(definition, "2024-06-15T23:59+03:00") is not None
    assert error(definition, "2024-06-15T21:30Z") == ["Gelecekte bir tarih olamaz."]  # 00:30 on the 16th
    now = datetime(2024, 6, 15, 12, 0, tzinfo=UTC)
    assert validate(definition, {"v": "2024-06-15T11:59Z"}, now=now)
    with pytest.raises(FormValidationError):
        validate(definition, {"v": "2024-06-15T12:01Z"}, now=now)
    with pytest.raises(FormValidationError):
        validate(definition, {"v": datetime.now(UTC) + timedelta(hours=1)})  # real clock by default


# --- bool and choices -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (True, True),
        (False, False),
        ("true", True),
        ("on", True),
        ("1", True),
        (1, True),
        ("Evet", True),
        ("EVET", True),
        ("e", True),
        ("false", False),
        ("off", False),
        ("0", False),
        (0, False),
        ("hayır", False),
        ("HAYIR", False),
        ("Hayir", False),
    ],
)
def test_bool_values(value: Any, expected: bool) -> None:
    assert clean(single("bool"), value) is expected


@pytest.mark.parametrize("value", ["belki", 2, "yes please", [True]])
def test_bool_rejects(value: Any) -> None:
    assert error(single("bool"), value) == ["Evet ya da hayır (true/false) olmalı."]


def test_required_bool_accepts_false() -> None:
    assert clean(single("bool", required=True), False) is False


def test_choice() -> None:
    definition = single("choice", choices=["a", "b", {"value": "c", "label": "Ce"}])
    assert clean(definition, "c") == "c"
    assert clean(definition, " b ") == "b"
    assert error(definition, "d") == ["Seçeneklerden biri olmalı: a, b, c"]
    assert error(definition, "Ce") == ["Seçeneklerden biri olmalı: a, b, c"]  # labels are not values
    assert error(definition, ["a"]) == ["Seçeneklerden biri olmalı: a, b, c"]


def test_choice_numeric_values_accept_numbers() -> None:
    assert clean(single("choice", choices=["1", "2"]), 2) == "2"


def test_multichoice() -> None:
    definition = single("multichoice", choices=["a", "b", "c"])
    assert clean(definition, ["c", "a", "c"]) == ["a", "c"]  # definition order, no duplicates
    assert clean(definition, "b") == ["b"]
    assert error(definition, ["a", "x"]) == ["Seçeneklerden biri olmalı: a, b, c"]
    assert error(definition, ["a", ["b"]]) == ["Seçeneklerden biri olmalı: a, b, c"]
    assert error(definition, {"a": True}) == ["Seçenek listesi olmalı."]


# --- e-mail, phone, T.C. kimlik no --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Ali.Veli@Belediye.GOV.TR", "Ali.Veli@belediye.gov.tr"),
        ("  x+etiket@ornek.com.tr ", "x+etiket@ornek.com.tr"),
    ],
)
def test_email_values(value: str, expected: str) -> None:
    assert clean(single("email"), value) == expected


@pytest.mark.parametrize(
    "value", ["ali", "ali@", "@x.com", "ali@x", "a b@x.com", "ali@@x.com", "ali@x..com", "çağrı@x.com", "ali@-x.com", 5]
)
def test_email_rejects(value: Any) -> None:
    assert error(single("email"), value) == ["Geçerli bir e-posta adresi değil."]


def test_email_max_length() -> None:
    assert error(single("email", max_length=10), "abc@ornek.com") == ["En fazla 10 karakter olabilir."]


@pytest.mark.parametrize(
    "value", ["0 532 123 45 67", "05321234567", "5321234567", "+90 532 123 45 67", "(0532) 123-45-67", "905321234567"]
)
def test_phone_values(value: str) -> None:
    assert clean(single("phone"), value) == "+905321234567"


@pytest.mark.parametrize("value", ["123", "0532 123 45 6", "0 123 456 78 90", "abc", "+90 532 123 45 678"])
def test_phone_rejects(value: str) -> None:
    assert error(single("phone"), value) == ["Geçerli bir telefon numarası değil."]


def test_tckn() -> None:
    definition = single("tckn")
    assert clean(definition, "10000000146") == "10000000146"
    assert clean(definition, " 10000000146 ") == "10000000146"
    assert clean(definition, 10000000146) == "10000000146"
    for bad in ["10000000147", "00000000000", "1000000014", "1000000014a", True]:
        assert error(definition, bad) == ["Geçerli bir T.C. kimlik numarası değil."]


# --- files --------------------------------------------------------------------------------------------

SHA = "AB" * 32


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"attachment_id": 7, "filename": "dilekçe.pdf"}, {"attachment_id": 7, "filename": "dilekçe.pdf"}),
        ({"sha256": SHA, "filename": " a.pdf "}, {"sha256": SHA.lower(), "filename": "a.pdf"}),
        (
            {"attachment_id": "u-1", "filename": "a.pdf", "content_type": "application/pdf", "size": 10, "n": 1},
            {"attachment_id": "u-1", "filename": "a.pdf", "content_type": "application/pdf", "size": 10, "n": 1},
        ),
    ],
)
def test_file_reference(value: dict[str, Any], expected: dict[str, Any]) -> None:
    assert clean(single("file"), value) == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("a.pdf", forms.messages.FILE),
        ({"filename": "a.pdf"}, forms.messages.FILE),
        ({"attachment_id": 1}, forms.messages.FILE),
        ({"attachment_id": 0, "filename": "a.pdf"}, forms.messages.FILE_ID),
        ({"sha256": "abc", "filename": "a.pdf"}, forms.messages.FILE_SHA256),
        ({"attachment_id": 1, "filename": "../etc/passwd"}, forms.messages.FILE_NAME),
        ({"attachment_id": 1, "filename": "a.pdf", "size": -1}, forms.messages.FILE_SIZE),
        ({"attachment_id": 1, "filename": "a.pdf", "meta": {"x": 1}}, "Dosya referansındaki 'meta' değeri"),
        ({"attachment_id": 1, "filename": "a.pdf", "meta": {"typename": "X"}}, forms.messages.TYPENAME),
    ],
)
def test_file_rejects(value: Any, message: str) -> None:
    messages = error(single("file"), value)
    assert len(messages) == 1 and messages[0].startswith(message)


# --- whole submissions --------------------------------------------------------------------------------

APPLICATION = parse_definition(
    {
        "key": "basvuru",
        "title": "Başvuru",
        "fields": [
            {"name": "ad", "type": "string", "label": "Ad", "required": True, "max_length": 250},
            {"name": "tckn", "type": "tckn", "label": "T.C. kimlik no", "required": True},
            {"name": "eposta", "type": "email", "label": "E-posta"},
            {"name": "dogum", "type": "date", "label": "Doğum tarihi", "not_future": True},
            {"name": "konu", "type": "choice", "label": "Konu", "choices": ["a", "b", "c"]},
        ],
    }
)


def test_all_errors_are_reported_together() -> None:
    assert errors(
        APPLICATION,
        {"tckn": "12345678901", "eposta": "yok", "dogum": "2099-01-01", "konu": "d", "adres": "x", "Ad": "y"},
    ) == {
        "ad": ["Bu alan zorunludur."],
        "tckn": ["Geçerli bir T.C. kimlik numarası değil."],
        "eposta": ["Geçerli bir e-posta adresi değil."],
        "dogum": ["Gelecekte bir tarih olamaz."],
        "konu": ["Seçeneklerden biri olmalı: a, b, c"],
        "_schema": ["Bilinmeyen alan: 'Ad'.", "Bilinmeyen alan: 'adres'."],
    }


def test_typename_is_rejected_at_top_level_and_nested() -> None:
    assert errors(APPLICATION, {"ad": "A", "tckn": "10000000146", "typename": "X"}) == {
        "_schema": ["'typename' adlı anahtar kullanılamaz."]
    }
    assert errors(APPLICATION, {"ad": {"typename": "X"}, "tckn": "10000000146"}) == {
        "ad": ["'typename' adlı anahtar kullanılamaz."]
    }
    definition = single("multichoice", choices=["a"])
    assert error(definition, [{"typename": "X"}]) == ["'typename' adlı anahtar kullanılamaz."]


@pytest.mark.parametrize("data", [["ad"], "ad=Ali", None])
def test_data_must_be_a_mapping(data: Any) -> None:
    with pytest.raises(FormValidationError) as info:
        validate(APPLICATION, data)
    assert info.value.field_errors == {"_schema": ["Form verisi bir nesne (anahtar-değer eşlemesi) olmalı."]}


def test_clean_data_keeps_definition_order_and_types() -> None:
    result = validate(APPLICATION, {"konu": "b", "ad": " Ayşe Işık ", "tckn": "10000000146"})
    assert result == {"ad": "Ayşe Işık", "tckn": "10000000146", "konu": "b"}
    assert list(result) == ["ad", "tckn", "konu"]


def test_schema_is_compiled_once_and_usable_directly() -> None:
    schema = forms.schema_for(APPLICATION)
    assert isinstance(schema, Schema)
    assert forms.schema_for(parse_definition(APPLICATION.to_dict())) is schema
    loaded = schema.load({"ad": "A", "tckn": "10000000146", "dogum": "01.01.2000"})
    assert schema.dump(loaded) == {"ad": "A", "tckn": "10000000146", "dogum": "2000-01-01"}
    assert forms.json_safe({"d": Decimal("1.50"), "t": [date(2024, 1, 2)]}) == {"d": "1.50", "t": ["2024-01-02"]}


def test_validation_error_text() -> None:
    error_ = FormValidationError({"ad": ["Bu alan zorunludur."]})
    assert str(error_) == "Form verisi geçersiz. ad: Bu alan zorunludur."


@pytest.mark.parametrize("name", ["Meta", "fields", "load", "validate", "opts", "error_messages"])
def test_field_names_that_are_schema_attributes(name: str) -> None:
    field = {"name": name, "type": "int", "label": "X", "required": True}
    definition = parse_definition({"key": "k", "title": "T", "fields": [field]})
    assert validate(definition, {name: "5"}) == {name: 5}
    assert errors(definition, {}) == {name: ["Bu alan zorunludur."]}
