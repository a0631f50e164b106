"""The scheduler's jobs called directly (no waiting), the daily digest, the configuration from
``KALEM_*`` variables, the in-process scheduler and ``kalem scheduler --once``."""

from __future__ import annotations

import shutil
from datetime import time, timedelta
from types import SimpleNamespace

import pytest
from click.testing import CliRunner
from factories import act, read
from sqlalchemy import func, select

from engine import clock, instances, outbox, scheduler
from engine.config import Settings
from engine.models import HumanTask, Notification, TaskState, Timer, TimerStatus
from scheduler.support import HERE, deploy_here, ist

T0 = "2026-06-01 09:00"  # Monday


def start_paralel(db, *, due: str = "2026-06-05") -> int:
    with clock.frozen_at(ist(T0)):
        return act(db, "idari1", lambda s, a: instances.start(s, a, "sure_paralel", data={"son_tarih": due}).id)


def tasks_by_bpmn(db) -> dict[str, str]:
    return dict(read(db, lambda s: s.execute(select(HumanTask.bpmn_id, HumanTask.state)).all()))


def test_fire_timers_fires_a_due_bpmn_timer_once(db):
    deploy_here(db, "sure_paralel.bpmn")
    start_paralel(db)
    config = scheduler.SchedulerConfig()
    assert scheduler.fire_timers(db, config, ist(T0) + timedelta(days=29)) == 0
    assert scheduler.fire_timers(db, config, ist(T0) + timedelta(days=30, seconds=1)) == 1
    assert scheduler.fire_timers(db, config, ist(T0) + timedelta(days=31)) == 0
    states = tasks_by_bpmn(db)
    assert states["Task_bpmn"] == TaskState.CANCELLED and states["Task_gecikme"] == TaskState.OPEN
    assert read(db, lambda s: s.scalar(select(Timer.status))) == TimerStatus.FIRED


def test_run_once_fires_escalates_and_mails(db, smtp_server):
    server, mailer = smtp_server
    deploy_here(db, "sure_paralel.bpmn")
    start_paralel(db)
    config = scheduler.SchedulerConfig(smtp=mailer.config)
    result = scheduler.run_once(db, config, ist(T0) + timedelta(days=31))
    assert result["timers"] == 1 and result["deadline_steps"] >= 1
    pending = read(db, lambda s: s.scalar(select(func.count()).where(Notification.status != "sent")))
    assert pending == 0 and result["sent"] == len(server.messages) > 0
    assert any(m["Subject"] == "Süresi geçti: 'Politikayla izlenen iş'" for m in server.messages)
    again = scheduler.run_once(db, config, ist(T0) + timedelta(days=31))
    assert again == {"timers": 0, "deadline_steps": 0, "sent": 0, "retried": 0, "failed": 0, "orphan_files": 0}


def test_daily_digest_once_per_person_and_business_day(db, smtp_server):
    server, mailer = smtp_server
    deploy_here(db, "sure_paralel.bpmn")
    start_paralel(db, due="2026-06-02T17:30:00+03:00")
    with clock.frozen_at(ist(T0)):
        act(db, "idari2", lambda s, a: outbox.set_preferences(s, a, "idari2", digest=False))
    report = outbox.send_daily_digest(db, ist("2026-06-02 08:00"))
    assert {"idari1", "ok.sef", "ok.mudur"} <= set(report.sent) and "idari2" not in report.sent
    assert "hi1" not in report.sent  # nothing of theirs is due
    assert outbox.send_daily_digest(db, ist("2026-06-02 15:00")).sent == []
    outbox.flush(db, mailer=mailer, at=ist("2026-06-02 08:01"))
    mine = [m for m in server.messages if m["To"] == "idari1@kalem.local"]
    assert len(mine) == 1 and mine[0]["Subject"] == "Bugün süresi dolan 2 işiniz var"
    body = mine[0].get_content()
    assert "Politikayla izlenen iş" in body and "Modelde süreli iş" in body and "02.06.2026 17:30" in body
    # Saturday: no digest at all; Wednesday: the work is overdue, nothing is due that day.
    assert outbox.send_daily_digest(db, ist("2026-06-06 08:00")).sent == []
    assert outbox.send_daily_digest(db, ist("2026-06-03 08:00")).sent == []


def test_config_from_environment():
    config = scheduler.SchedulerConfig.from_env(
        {
            "KALEM_SMTP_HOST": "smtp.belediye.local",
            "KALEM_SMTP_PORT": "587",
            "KALEM_SMTP_STARTTLS": "1",
            "KALEM_SMTP_FROM": "Kalem <kalem@belediye.local>",
            "KALEM_SCHEDULER_TIMER_INTERVAL": "2.5",
            "KALEM_SCHEDULER_DIGEST_AT": "07:45",
            "KALEM_SMS_FILE": "/tmp/sms.jsonl",
        }
    )
    assert config.smtp == outbox.SmtpConfig(
        host="smtp.belediye.local", port=587, starttls=True, sender="Kalem <kalem@belediye.local>"
    )
    assert config.timer_interval == 2.5 and config.digest_at == time(7, 45) and config.deadline_interval == 60
    assert str(config.sms_file) == "/tmp/sms.jsonl"
    bare = scheduler.SchedulerConfig.from_env({})
    assert bare.smtp is None and bare.mailer() is None and bare.sms_sender() is None


def test_in_process_scheduler_runs_the_jobs_in_a_thread(db):
    off = Settings(run_scheduler_in_process=False)
    assert scheduler.start_in_process(db, off) is None
    app = SimpleNamespace(extensions={"kalem_db": db})
    running = scheduler.start_in_process(app, Settings(), scheduler.SchedulerConfig(timer_interval=3600))
    try:
        assert running is not None and running.running
        assert {"timers", "deadlines", "outbox", "attachments", "digest"} <= {job.id for job in running.get_jobs()}
        assert scheduler.start_in_process(app, Settings()) is running
    finally:
        running.shutdown(wait=True)
    assert not running.running


@pytest.fixture
def kalem(tmp_path, monkeypatch, sqlite_template):
    from webui.cli import main

    shutil.copy(sqlite_template, tmp_path / "kalem.sqlite3")
    monkeypatch.setenv("KALEM_INSTANCE_DIR", str(tmp_path))
    monkeypatch.setenv("KALEM_DATABASE_URL", f"sqlite:///{tmp_path / 'kalem.sqlite3'}")
    monkeypatch.setenv("KALEM_AUDIT_KEY", "test-audit-key")
    monkeypatch.setenv("KALEM_SMS_FILE", str(tmp_path / "sms.jsonl"))
    runner = CliRunner()

    def run(*args: str) -> str:
        result = runner.invoke(main, list(args), catch_exceptions=False)
        assert result.exit_code == 0, (result.output, result.stderr)
        return result.stdout

    return run


def test_kalem_scheduler_once_with_time_travel(kalem):
    kalem("deploy", str(HERE / "sure_paralel.bpmn"))
    kalem("start", "sure_paralel", "--as", "idari1", "--data", '{"son_tarih": "2099-06-05"}')
    assert kalem("scheduler", "--once").startswith("0 örnekte zamanlayıcı")
    out = kalem("scheduler", "--once", "--now", (clock.now() + timedelta(days=31)).isoformat())
    assert out.startswith("1 örnekte zamanlayıcı")
