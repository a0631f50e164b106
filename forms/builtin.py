"""Forms written in Python, registered into :data:`forms.registry.python_forms` on import.

A Python form is an ordinary :class:`~forms.definition.FormDefinition` built in code:
from the same document structure as a ``*.form.json`` file (checked the same way), or
from :class:`~forms.definition.FieldDefinition` objects. Registering it makes its key
usable as a BPMN ``formKey`` without deploying a file. For example::

    from forms.parsing import parse_definition
    from forms.registry import python_forms

    LEAVE_REQUEST = python_forms.register(
        parse_definition(
            {
                "key": "izin-talebi",
                "title": {"tr": "İzin talebi", "en": "Leave request"},
                "fields": [
                    {"name": "starts_on", "type": "date", "label": "Başlangıç", "required": True},
                    {"name": "days", "type": "int", "label": "Gün sayısı", "required": True, "min": 1},
                    {"name": "reason", "type": "text", "label": "Gerekçe", "max_length": 1000},
                ],
            },
            source=__name__,
        )
    )

Modules holding Python forms are imported here, so they are registered exactly once,
when :mod:`forms` is first imported. There are no built-in forms yet.
"""

from __future__ import annotations
