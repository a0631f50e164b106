"""Fixtures of the scheduler tests: a real SMTP server on 127.0.0.1 (aiosmtpd)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from aiosmtpd.controller import Controller

from engine import outbox
from scheduler.support import Recorder, free_port


@pytest.fixture
def smtp_server() -> Iterator[tuple[Recorder, outbox.SmtpMailer]]:
    recorder = Recorder()
    port = free_port()
    controller = Controller(recorder, hostname="127.0.0.1", port=port)
    controller.start()  # returns once the server answers
    try:
        yield recorder, outbox.SmtpMailer(outbox.SmtpConfig(host="127.0.0.1", port=port, timeout=5))
    finally:
        controller.stop()
