"""Helpers of the scheduler tests: Istanbul wall-clock instants, this folder's BPMN files, and an
aiosmtpd handler that records, refuses or delays what it is sent."""

from __future__ import annotations

import email
import socket
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from factories import act

from engine import definitions

HERE = Path(__file__).parent / "data"
ISTANBUL = ZoneInfo("Europe/Istanbul")


def ist(text: str) -> datetime:
    """An Istanbul wall-clock time, e.g. ``ist("2026-05-18 10:00")``."""
    return datetime.fromisoformat(text).replace(tzinfo=ISTANBUL)


def deploy_here(db: Any, *names: str) -> None:
    files = [(n, (HERE / n).read_bytes()) for n in names]
    act(db, None, lambda s, a: definitions.deploy(s, a, files))


@dataclass
class Recorder:
    """aiosmtpd handler: records what it accepts; can refuse addresses or fail the next DATAs."""

    messages: list[EmailMessage] = field(default_factory=list)
    reject: set[str] = field(default_factory=set)
    fail_next: int = 0

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:  # noqa: N802
        if address in self.reject:
            return "550 5.1.1 Alıcı yok"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        if self.fail_next:
            self.fail_next -= 1
            return "451 4.3.0 Daha sonra deneyin"
        self.messages.append(email.message_from_bytes(envelope.content, policy=default_policy))  # type: ignore[arg-type]
        return "250 OK"

    def ids(self) -> list[str]:
        return [str(m["Message-ID"]) for m in self.messages]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
