"""Kalem forms: definitions of user-task forms, validation of submitted data, a registry.

A BPMN user task names its form by key (``formKey``). Forms are mostly data
(``*.form.json`` documents, see :func:`parse_definition`); forms written in Python are
registered in :data:`python_forms`. :func:`validate` turns submitted data into clean
values or raises :class:`FormValidationError` listing every bad field in Turkish.

This package is a leaf: it imports nothing else of the project.
"""

from __future__ import annotations

from forms import builtin as _builtin  # noqa: F401 - registers the Python forms
from forms.definition import FIELD_TYPES, FieldDefinition, FormDefinition
from forms.errors import DuplicateFormError, FormDefinitionError, FormValidationError
from forms.parsing import load_definition_file, parse_definition
from forms.registry import FormRegistry, python_forms
from forms.text import LocalizedText, current_language, use_language
from forms.validation import schema_for, validate
from forms.values import json_safe, normalize_email, normalize_phone, tckn_is_valid

__all__ = [
    "FIELD_TYPES",
    "DuplicateFormError",
    "FieldDefinition",
    "FormDefinition",
    "FormDefinitionError",
    "FormRegistry",
    "FormValidationError",
    "LocalizedText",
    "current_language",
    "json_safe",
    "load_definition_file",
    "normalize_email",
    "normalize_phone",
    "parse_definition",
    "python_forms",
    "schema_for",
    "tckn_is_valid",
    "use_language",
    "validate",
]
