"""Process-wide engine configuration, set once by the composition root (web app or CLI)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from engine import audit
from engine.config import Settings
from engine.handlers import HandlerFn, registry


@dataclass
class EngineConfig:
    script_time_limit: float = 2.0
    helpers: dict[str, Callable[..., Any]] = field(default_factory=dict)


config = EngineConfig()


def configure(settings: Settings, handlers: Iterable[HandlerFn] = ()) -> EngineConfig:
    """Wire settings, expression helpers and handlers into the engine (idempotent)."""
    from engine import attachments, calendar, ldap_auth

    audit.configure(settings.audit_key)
    attachments.configure(settings.attachment_dir, settings.attachment_max_bytes)
    ldap_auth.configure(settings)
    config.script_time_limit = settings.script_time_limit
    config.helpers = dict(calendar.expression_helpers(calendar.default_calendar()))
    registry.register_all(handlers)
    return config
