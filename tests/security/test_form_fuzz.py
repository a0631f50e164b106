"""Hypothesis fuzzing of every form definition shipped under ``processes/``: whatever a browser, the
API or an attacker submits, validation either returns clean data — which, written as JSON and
submitted again, validates to the same clean data — or raises ``FormValidationError`` naming fields.
Never another exception (a 500 on a public form, or a crash inside the engine's transaction)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import forms
from forms.samples import sample_values

PROCESSES = Path(__file__).resolve().parents[2] / "processes"
FORM_FILES = sorted(PROCESSES.rglob("*.form.json"))
NOW = datetime(2026, 3, 10, 9, 30, tzinfo=UTC)

# Values of every JSON type and the strings that break parsers: numbers at the edges, dates in the
# wrong shapes, Turkish letters, control characters, markup, very long text.
TRICKY_TEXT = st.sampled_from(
    [
        "",
        " ",
        "İıŞşĞğÜüÖöÇç",
        "2026-02-30",
        "2026-13-01",
        "0001-01-01",
        "9999-12-31T23:59:59+14:00",
        "2026-03-10T09:30",
        "1e309",
        "-0",
        "NaN",
        "Infinity",
        "12,50",
        "1.000.000,00",
        "99999999999999999999999999999999",
        "\x00",
        "\u202e",
        "<script>alert(1)</script>",
        "' OR 1=1 --",
        "${7*7}",
        "{{7*7}}",
        "a" * 10_000,
        "+90 (532) 123 45 67",
        "10000000146",
        "ornek@example.com",
        "true",
        "false",
        "null",
    ]
)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=60),
    TRICKY_TEXT,
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)),
    max_leaves=8,
)


def references(field: Any, _values: dict[str, Any]) -> list[str]:
    return ["idari1"] if field.type == "user" else ["fen_isleri"]


def submissions(definition: Any) -> st.SearchStrategy[Any]:
    """A valid sample of the form (one of its variants), with some fields replaced by hostile values,
    some removed and some unknown keys added; now and then not a JSON object at all."""
    names = [f.name for f in definition.fields]

    @st.composite
    def build(draw: Any) -> Any:
        if draw(st.integers(0, 19)) == 0:
            return draw(st.one_of(SCALARS, st.lists(VALUES, max_size=3)))
        data = sample_values(definition, variant=draw(st.integers(0, 7)), now=NOW, references=references)
        if names:
            for name in draw(st.lists(st.sampled_from(names), max_size=len(names), unique=True)):
                if draw(st.booleans()):
                    data[name] = draw(VALUES)
                else:
                    data.pop(name, None)
        data.update(
            draw(st.dictionaries(st.sampled_from(["typename", "_gizli", "x", "__class__"]), VALUES, max_size=2))
        )
        return data

    return build()


def test_every_shipped_form_is_fuzzed() -> None:
    assert len(FORM_FILES) >= 10, "no form definitions found under processes/"


@pytest.mark.parametrize("path", FORM_FILES, ids=[p.name.removesuffix(".form.json") for p in FORM_FILES])
def test_validation_returns_clean_data_or_names_the_fields(path: Path) -> None:
    definition = forms.load_definition_file(path)
    cleaned: list[int] = []

    @given(submissions(definition))
    @settings(max_examples=60, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    def check(data: Any) -> None:
        try:
            clean = forms.validate(definition, data, now=NOW)
        except forms.FormValidationError as exc:
            assert exc.field_errors and all(isinstance(m, str) for ms in exc.field_errors.values() for m in ms)
            return
        as_json = json.loads(json.dumps(forms.json_safe(clean)))
        again = forms.validate(definition, as_json, now=NOW)
        assert forms.json_safe(again) == forms.json_safe(clean)
        cleaned.append(1)

    check()
    # The fuzzing reached the clean path too (the variants of sample_values pass on their own),
    # unless the form has a required field samples cannot fill (a file).
    if not any(f.required and f.type == "file" for f in definition.fields):
        assert cleaned, f"{path.name}: no generated submission was valid"
