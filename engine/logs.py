"""Structured logs: one JSON object per line (time, level, logger, message and any ``extra`` fields),
for the web, the CLI and the scheduler alike. ``KALEM_LOG_FORMAT=text`` gives plain lines instead."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

# Attributes every LogRecord has; anything else on a record came from ``extra=`` and is logged.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "process": record.process,
        }
        entry |= {k: v for k, v in vars(record).items() if k not in _STANDARD and not k.startswith("_")}
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def configure(fmt: str = "json", level: str = "INFO") -> None:
    """Send the ``kalem`` loggers to stderr in ``fmt`` (idempotent)."""
    logger = logging.getLogger("kalem")
    logger.setLevel(level.upper())
    if any(getattr(h, "kalem", False) for h in logger.handlers):
        return
    handler = logging.StreamHandler()
    handler.kalem = True  # type: ignore[attr-defined]
    handler.setFormatter(
        JsonFormatter() if fmt == "json" else logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s")
    )
    logger.addHandler(handler)
    logger.propagate = False
