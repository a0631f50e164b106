"""The scheduler: APScheduler used only as a clock whose jobs poll tables.

Jobs (each also a plain function, called directly by tests and by ``kalem scheduler --once``):

* :func:`fire_timers` — due BPMN timers (``engine.timers.fire_due``: one transaction per
  instance, ``SKIP LOCKED`` on PostgreSQL; a timer already handled is a no-op);
* :func:`apply_deadlines` — the deadline policy (``engine.deadlines.run``);
* :func:`flush_outbox` — e-mail and SMS from the notification outbox (``engine.outbox.flush``);
* :func:`send_digest` — the daily digest per person (``engine.outbox.send_daily_digest``);
* :func:`sweep_attachments` — stored files of rolled-back uploads (``engine.attachments.sweep_orphans``).

The database is the truth: nothing is kept in the scheduler's memory between runs, so any
number of scheduler processes may run against PostgreSQL (``kalem scheduler``, see
docs/deployment.md), a crashed one loses nothing, and the single-process default (SQLite, ``make
run``) runs the same jobs in a background thread (:func:`start_in_process`). Every job works in
bounded batches over indexed queries, so memory stays flat however large the database grows.
"""

from __future__ import annotations

import atexit
import logging
import os
import signal
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger

from engine import attachments, clock, deadlines, outbox, timers
from engine.config import Settings
from engine.db import Database, read_session

logger = logging.getLogger(__name__)

ISTANBUL = ZoneInfo("Europe/Istanbul")


@dataclass(frozen=True)
class SchedulerConfig:
    """Intervals, batch sizes and transports; ``from_env`` documents each ``KALEM_*`` variable."""

    timer_interval: float = 10.0
    deadline_interval: float = 60.0
    outbox_interval: float = 15.0
    sweep_interval: float = 3600.0
    digest_at: time = time(8, 0)
    batch: int = 500
    # Loops of one job run while it keeps finding work (drains a backlog without waiting a tick).
    max_batches: int = 20
    outbox_batch: int = 100
    smtp: outbox.SmtpConfig | None = None
    sms_file: Path | None = None
    extra: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> SchedulerConfig:
        """``KALEM_SCHEDULER_TIMER_INTERVAL`` (s, 10), ``KALEM_SCHEDULER_DEADLINE_INTERVAL`` (s, 60),
        ``KALEM_SCHEDULER_OUTBOX_INTERVAL`` (s, 15), ``KALEM_SCHEDULER_DIGEST_AT`` (HH:MM Istanbul,
        08:00), ``KALEM_SCHEDULER_BATCH`` (500); ``KALEM_SMTP_HOST`` (unset: e-mails wait in the
        outbox), ``KALEM_SMTP_PORT`` (25), ``KALEM_SMTP_USER``, ``KALEM_SMTP_PASSWORD``,
        ``KALEM_SMTP_STARTTLS`` / ``KALEM_SMTP_SSL`` (0/1), ``KALEM_SMTP_FROM``; ``KALEM_SMS_FILE``
        (development SMS adapter: one JSON line per message; unset: SMS rows wait)."""
        env = dict(os.environ if environ is None else environ)
        smtp = None
        if env.get("KALEM_SMTP_HOST"):
            smtp = outbox.SmtpConfig(
                host=env["KALEM_SMTP_HOST"],
                port=int(env.get("KALEM_SMTP_PORT", "25")),
                username=env.get("KALEM_SMTP_USER") or None,
                password=env.get("KALEM_SMTP_PASSWORD") or None,
                starttls=_flag(env.get("KALEM_SMTP_STARTTLS")),
                use_ssl=_flag(env.get("KALEM_SMTP_SSL")),
                sender=env.get("KALEM_SMTP_FROM", "Kalem <kalem@localhost>"),
            )
        hour, _, minute = env.get("KALEM_SCHEDULER_DIGEST_AT", "08:00").partition(":")
        return cls(
            timer_interval=float(env.get("KALEM_SCHEDULER_TIMER_INTERVAL", "10")),
            deadline_interval=float(env.get("KALEM_SCHEDULER_DEADLINE_INTERVAL", "60")),
            outbox_interval=float(env.get("KALEM_SCHEDULER_OUTBOX_INTERVAL", "15")),
            digest_at=time(int(hour), int(minute or 0)),
            batch=int(env.get("KALEM_SCHEDULER_BATCH", "500")),
            smtp=smtp,
            sms_file=Path(env["KALEM_SMS_FILE"]) if env.get("KALEM_SMS_FILE") else None,
        )

    def mailer(self) -> outbox.SmtpMailer | None:
        return outbox.SmtpMailer(self.smtp) if self.smtp is not None else None

    def sms_sender(self) -> outbox.FileSmsSender | None:
        return outbox.FileSmsSender(self.sms_file) if self.sms_file is not None else None


def _flag(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "evet")


# --- the jobs --------------------------------------------------------------------------------------


def fire_timers(db: Database, config: SchedulerConfig, at: datetime | None = None) -> int:
    """Fire due timers in batches until none is left (or ``max_batches``); returns instances fired."""
    fired = 0
    for _ in range(config.max_batches):
        report = timers.fire_due(db, at, limit=config.batch)
        for instance_id, error in report.failed.items():
            logger.warning("timer of instance %s failed: %s", instance_id, error)
        fired += len(report.fired_instances)
        if not report.fired_instances:
            break
    if fired:
        logger.info("fired timers of %d instances", fired)
    return fired


def apply_deadlines(db: Database, config: SchedulerConfig, at: datetime | None = None) -> deadlines.DeadlineReport:
    report = deadlines.run(db, at, batch=config.batch, max_feed_batches=config.max_batches)
    if report.applied:
        logger.info("deadline steps applied: %s", report.applied)
    return report


def flush_outbox(db: Database, config: SchedulerConfig, at: datetime | None = None) -> outbox.FlushReport:
    """Send due notifications in batches while whole batches keep coming."""
    total = outbox.FlushReport()
    mailer, sms = config.mailer(), config.sms_sender()
    if mailer is None and sms is None:
        return total
    sender = config.smtp.sender if config.smtp is not None else "Kalem <kalem@localhost>"
    for _ in range(config.max_batches):
        report = outbox.flush(db, mailer=mailer, sms=sms, at=at, limit=config.outbox_batch, sender=sender)
        for name in ("sent", "retried", "failed", "lost_lease"):
            getattr(total, name).extend(getattr(report, name))
        if len(report.sent) + len(report.retried) + len(report.failed) < config.outbox_batch:
            break
    return total


def send_digest(db: Database, config: SchedulerConfig, at: datetime | None = None) -> outbox.DigestReport:
    return outbox.send_daily_digest(db, at)


def sweep_attachments(db: Database, config: SchedulerConfig, at: datetime | None = None) -> int:
    """Remove stored files no attachment names (uploads whose action rolled back); returns how many."""
    with read_session(db) as session:
        report = attachments.sweep_orphans(session)
    if report.removed:
        logger.info("removed %d orphan attachment files (%d bytes)", report.removed, report.removed_bytes)
    return report.removed


def run_once(
    db: Database, config: SchedulerConfig, at: datetime | None = None, *, digest: bool = False
) -> dict[str, Any]:
    """Every job once, in dependency order (timers may create tasks, deadlines enqueue mail)."""
    result: dict[str, Any] = {"timers": fire_timers(db, config, at)}
    report = apply_deadlines(db, config, at)
    result["deadline_steps"] = len(report.applied)
    if digest:
        result["digests"] = len(send_digest(db, config, at).sent)
    sent = flush_outbox(db, config, at)
    result |= {"sent": len(sent.sent), "retried": len(sent.retried), "failed": len(sent.failed)}
    result["orphan_files"] = sweep_attachments(db, config, at)
    return result


# --- wiring into APScheduler -----------------------------------------------------------------------


def _guarded(name: str, job: Callable[..., Any], db: Database, config: SchedulerConfig) -> Callable[[], None]:
    def run() -> None:
        try:
            job(db, config)
        except Exception:
            # A failing run is retried at the next tick; the scheduler itself keeps going.
            logger.exception("scheduler job %s failed", name)

    run.__name__ = f"kalem_{name}"
    return run


def add_jobs(scheduler: BaseScheduler, db: Database, config: SchedulerConfig) -> None:
    now = clock.now().astimezone(ISTANBUL)
    for name, job, seconds in (
        ("timers", fire_timers, config.timer_interval),
        ("deadlines", apply_deadlines, config.deadline_interval),
        ("outbox", flush_outbox, config.outbox_interval),
        ("attachments", sweep_attachments, config.sweep_interval),
    ):
        scheduler.add_job(
            _guarded(name, job, db, config),
            "interval",
            seconds=seconds,
            id=name,
            next_run_time=now,
            replace_existing=True,
        )
    scheduler.add_job(
        _guarded("digest", send_digest, db, config),
        CronTrigger(hour=config.digest_at.hour, minute=config.digest_at.minute, timezone=ISTANBUL),
        id="digest",
        replace_existing=True,
    )
    if clock.now().astimezone(ISTANBUL).time() >= config.digest_at:
        # Started after today's digest time: send what is still owed (once per person and day).
        scheduler.add_job(
            _guarded("digest", send_digest, db, config),
            "date",
            run_date=now + timedelta(seconds=5),
            id="digest_catchup",
        )


def _make(kind: type[BaseScheduler]) -> BaseScheduler:
    return kind(
        timezone=ISTANBUL,
        # One run of a job at a time per process; a late run is run once, not once per missed tick.
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 60},
    )


def run_forever(db: Database, config: SchedulerConfig) -> None:
    """The ``kalem scheduler`` process: runs until SIGTERM or SIGINT, finishing the running jobs."""
    scheduler = _make(BlockingScheduler)
    add_jobs(scheduler, db, config)

    def stop(signum: int, _frame: object) -> None:
        logger.info("scheduler stopping (signal %s)", signum)
        if not scheduler.running:  # the signal came before the scheduler started: nothing runs yet
            raise SystemExit(0)
        scheduler.shutdown(wait=False)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    logger.info("scheduler started (pid %s)", os.getpid())
    scheduler.start()


_in_process: BaseScheduler | None = None


def start_in_process(app_or_db: Any, settings: Settings, config: SchedulerConfig | None = None) -> BaseScheduler | None:
    """Run the jobs in a background thread of this process (the single-process default).

    ``app_or_db`` is the Flask app (its ``extensions['kalem_db']``) or a ``Database``. Returns None
    when ``settings.run_scheduler_in_process`` is off (``KALEM_SCHEDULER_IN_PROCESS=0``: scheduler
    processes run separately); starting twice in one process returns the running scheduler.
    """
    global _in_process
    if not settings.run_scheduler_in_process:
        return None
    if _in_process is not None and _in_process.running:
        return _in_process
    db = app_or_db if isinstance(app_or_db, Database) else app_or_db.extensions["kalem_db"]
    scheduler = _make(BackgroundScheduler)
    add_jobs(scheduler, db, config or SchedulerConfig.from_env())
    scheduler.start()
    atexit.register(_shutdown, scheduler)
    _in_process = scheduler
    return scheduler


def _shutdown(scheduler: BaseScheduler) -> None:
    if scheduler.running:
        scheduler.shutdown(wait=True)
