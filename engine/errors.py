"""The engine's error hierarchy: each error has a stable ``code`` and a translatable message.

Web, API and CLI map these classes to their own status codes once; nothing else should
be raised across the engine boundary for an expected failure.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from engine.i18n import LazyText


class KalemError(Exception):
    """Base class: an expected failure with a message meant for the user."""

    code = "error"

    def __init__(
        self,
        message: LazyText | str,
        *,
        code: str | None = None,
        field_errors: Mapping[str, Sequence[str]] | None = None,
        details: Mapping[str, object] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        self.field_errors = {k: [str(m) for m in v] for k, v in (field_errors or {}).items()}
        self.details = dict(details or {})

    def __str__(self) -> str:
        text = str(self.message)
        if self.field_errors:
            fields = "; ".join(f"{name}: {', '.join(msgs)}" for name, msgs in self.field_errors.items())
            text = f"{text} ({fields})"
        return text


class NotFound(KalemError):
    code = "not_found"


class NotAllowed(KalemError):
    """The actor may not see or do this."""

    code = "not_allowed"


class Conflict(KalemError):
    """The state changed under the caller (claimed by someone else, stale version, ...)."""

    code = "conflict"


class InvalidInput(KalemError):
    """Input data failed validation; ``field_errors`` names each bad field."""

    code = "invalid_input"


class DeployError(KalemError):
    """A deployment was rejected; ``problems`` lists each problem with file, element and line."""

    code = "deploy_error"

    def __init__(self, message: LazyText | str, problems: Sequence[Problem]) -> None:
        super().__init__(message)
        self.problems = list(problems)

    def __str__(self) -> str:
        return "\n".join([str(self.message), *(f"  - {p}" for p in self.problems)])


class ProcessError(KalemError):
    """A script, expression or service task failed while the process ran; the change was rolled back."""

    code = "process_error"


class Problem:
    """One deploy-time problem, located as precisely as the source allows."""

    __slots__ = ("element_id", "file", "line", "message")

    def __init__(
        self, file: str, message: LazyText | str, element_id: str | None = None, line: int | None = None
    ) -> None:
        self.file = file
        self.message = message
        self.element_id = element_id
        self.line = line

    def as_dict(self) -> dict[str, object]:
        return {
            "file": self.file,
            "element_id": self.element_id,
            "line": self.line,
            "message": str(self.message),
        }

    def __str__(self) -> str:
        where = self.file
        if self.line:
            where += f":{self.line}"
        if self.element_id:
            where += f" [{self.element_id}]"
        return f"{where}: {self.message}"
