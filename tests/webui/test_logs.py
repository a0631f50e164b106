"""Structured logs: one JSON line per web request, with who and how long."""

from __future__ import annotations

import json
import logging

from engine import logs


def test_records_are_json_with_their_extra_fields() -> None:
    record = logging.LogRecord("kalem.web", logging.INFO, __file__, 1, "request", None, None)
    record.path, record.status = "/tasks/3", 200
    line = json.loads(logs.JsonFormatter().format(record))
    assert line["message"] == "request" and line["path"] == "/tasks/3" and line["status"] == 200
    assert line["level"] == "INFO" and line["time"].endswith("+00:00")


def test_every_request_is_logged(db, settings, tmp_path, caplog) -> None:
    from engine.config import Settings
    from webui import create_app

    app = create_app(Settings(instance_dir=tmp_path, audit_key=settings.audit_key), database=db)
    logging.getLogger("kalem").propagate = True  # let caplog see it
    try:
        with caplog.at_level(logging.INFO, logger="kalem.web"):
            assert app.test_client().get("/health").status_code == 200
    finally:
        logging.getLogger("kalem").propagate = False
    records = [r for r in caplog.records if r.name == "kalem.web" and getattr(r, "path", None) == "/health"]
    assert records, "no request line logged"
    record = records[-1]
    assert (record.method, record.status) == ("GET", 200) and record.ms >= 0
