"""Service-task handlers. Every module in this package is imported and each function marked
with ``@handler`` is collected into ``ALL`` (``create_app`` and the CLI register ``ALL``),
so a new handler needs only a new module here."""

from __future__ import annotations

import importlib
import pkgutil

from engine.handlers import HANDLER_ATTR, HandlerFn


def _collect() -> list[HandlerFn]:
    found: list[HandlerFn] = []
    for module_info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{__name__}.{module_info.name}")
        found += [value for value in vars(module).values() if callable(value) and hasattr(value, HANDLER_ATTR)]
    return sorted(set(found), key=lambda fn: getattr(fn, HANDLER_ATTR))


ALL = _collect()
