"""Public helpers (T.C. kimlik no, phone numbers) and the form registry."""

from __future__ import annotations

import threading

import pytest

import forms
from forms import FormRegistry, normalize_phone, parse_definition, tckn_is_valid

VALID_TCKN = "10000000146"


def test_known_valid_tckn() -> None:
    assert tckn_is_valid(VALID_TCKN)


@pytest.mark.parametrize("position", range(11))
def test_every_single_digit_change_invalidates_tckn(position: int) -> None:
    for digit in "0123456789":
        if digit == VALID_TCKN[position]:
            continue
        changed = VALID_TCKN[:position] + digit + VALID_TCKN[position + 1 :]
        assert not tckn_is_valid(changed), changed


@pytest.mark.parametrize(
    "value",
    ["00000000000", "1000000014", "100000001466", "1000000014a", "１0000000146", " 10000000146", "", None, 10000000146],
)
def test_malformed_tckn(value: object) -> None:
    assert not tckn_is_valid(value)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("0 532 123 45 67", "+905321234567"),
        ("0532 123 4567", "+905321234567"),
        ("5321234567", "+905321234567"),
        ("+90 532 123 45 67", "+905321234567"),
        ("+90 (532) 123-45-67", "+905321234567"),
        ("0090 532 123 45 67", "+905321234567"),
        ("90 532 123 4567", "+905321234567"),
        ("0 (312) 456 78 90", "+903124567890"),  # Ankara landline
        ("0850 222 00 00", "+908502220000"),
        ("+49 30 1234567", "+49301234567"),  # foreign numbers need + or 00
        ("0049 30 1234567", "+49301234567"),
    ],
)
def test_normalize_phone(value: str, expected: str) -> None:
    assert normalize_phone(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        "",
        "532 123 45",  # too short
        "0 932 123 45 67",  # no Turkish numbers start with 9
        "0 132 123 45 67",
        "+90 532 123 45 6",
        "+0 532",
        "0532-ABC-4567",
        "+90 532 +123",
        "+1 23",
        None,
    ],
)
def test_normalize_phone_rejects(value: str | None) -> None:
    assert normalize_phone(value) is None  # type: ignore[arg-type]


def test_normalize_email() -> None:
    assert forms.normalize_email("ayse@BELEDİYE.gov.tr") is None  # non-ASCII domains are refused
    assert forms.normalize_email("Ayse.Yilmaz@Belediye.GOV.TR") == "Ayse.Yilmaz@belediye.gov.tr"


# --- registry -------------------------------------------------------------------------------------------

DOCUMENT = {"key": "python-form", "title": "Python formu", "fields": [{"name": "a", "type": "int", "label": "A"}]}


def test_registry_register_get_keys() -> None:
    registry = FormRegistry()
    definition = registry.register(parse_definition(DOCUMENT, source=__name__))
    other = registry.register(parse_definition({**DOCUMENT, "key": "another"}))
    assert registry.get("python-form") is definition
    assert registry.get("missing") is None
    assert registry.keys() == ["another", "python-form"]
    assert list(registry) == [other, definition]
    assert "python-form" in registry and len(registry) == 2


def test_registry_rejects_duplicate_keys() -> None:
    registry = FormRegistry([parse_definition(DOCUMENT)])
    with pytest.raises(forms.DuplicateFormError, match=r"'python-form' anahtarlı form zaten kayıtlı\.") as info:
        registry.register(parse_definition(DOCUMENT))
    assert isinstance(info.value, forms.FormDefinitionError)


def test_registry_rejects_other_objects() -> None:
    with pytest.raises(TypeError):
        FormRegistry().register(DOCUMENT)  # type: ignore[arg-type]


def test_registry_is_safe_under_concurrent_registration() -> None:
    registry = FormRegistry()
    definition = parse_definition(DOCUMENT)
    failures: list[Exception] = []

    def register() -> None:
        try:
            registry.register(definition)
        except forms.DuplicateFormError as exc:
            failures.append(exc)

    threads = [threading.Thread(target=register) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(registry) == 1 and len(failures) == 7


def test_python_forms_is_a_module_level_registry() -> None:
    assert isinstance(forms.python_forms, FormRegistry)
    assert forms.python_forms is forms.registry.python_forms


def test_python_built_form_with_bad_default_fails_on_register() -> None:
    field = forms.FieldDefinition("n", "int", "N", default="çok")
    with pytest.raises(forms.FormDefinitionError) as info:
        FormRegistry().register(forms.FormDefinition("k", "K", (field,)))
    assert (info.value.field, info.value.path) == ("n", "fields[0].default")


def test_forms_package_imports_nothing_else_of_the_project() -> None:
    import ast
    from pathlib import Path

    package = Path(forms.__file__).parent
    for module in package.glob("*.py"):
        tree = ast.parse(module.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            for name in names:
                assert name.split(".")[0] not in {"engine", "webui", "handlers"}, (module.name, name)
