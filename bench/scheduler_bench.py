"""Scheduler benchmark (issue #5): prints medians and p95.

With 100,000 waiting timers in the database (1,000 of them due, 99,000 due in a month):
(a) idle scans, nothing due: the timer job, the deadline job (100k future deadline watches) and
    the outbox job (100k notifications already sent);
(b) firing the 1,000 due timers: latency of each (one transaction per instance) and the total,
    as the scheduler job does it;
(c) resident memory before and after, to show the scans are bounded.

PostgreSQL when KALEM_BENCH_POSTGRES_URL is set (a throw-away schema), SQLite otherwise.
Usage: python bench/scheduler_bench.py [--quick]
"""

from __future__ import annotations

import gc
import os
import resource
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, insert, select, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import handlers  # noqa: E402
from engine import clock, deadlines, definitions, demo, instances, outbox, people, scheduler, setup, timers  # noqa: E402
from engine import db as dbmod  # noqa: E402
from engine.actors import Actor  # noqa: E402
from engine.config import Settings  # noqa: E402
from engine.incidents import recorded_transaction  # noqa: E402
from engine.migrate import upgrade  # noqa: E402
from engine.models import AuditEvent, Notification, ProcessInstance, Timer, TimerStatus  # noqa: E402
from engine.models.scheduling import DeadlineWatch, SchedulerCursor  # noqa: E402

BPMN = ROOT / "tests" / "scheduler" / "data" / "zamanlayici.bpmn"
T = datetime(2026, 6, 1, 6, 0, tzinfo=UTC)  # the instant the cases were started
TOTAL, DUE = 100_000, 1_000
CHUNK = 5_000


def stats(samples: list[float]) -> str:
    ms = sorted(s * 1000 for s in samples)
    p95 = ms[min(len(ms) - 1, int(len(ms) * 0.95))]
    return f"median {statistics.median(ms):8.3f} ms   p95 {p95:8.3f} ms   (n={len(ms)})"


def max_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def rss_mb() -> float:
    """Current resident memory (Linux); the peak (max RSS) is set by the bulk fill."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return float("nan")
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def open_db() -> tuple[dbmod.Database, str, str | None]:
    pg_url = os.environ.get("KALEM_BENCH_POSTGRES_URL")
    if pg_url:
        url, schema = pg_url.replace("postgresql://", "postgresql+psycopg://", 1), f"kalem_sbench_{os.getpid()}"
    else:
        url, schema = f"sqlite:///{Path(tempfile.mkdtemp()) / 'scheduler-bench.sqlite3'}", None
    upgrade(url, schema=schema)
    database = dbmod.connect(url, schema=schema)
    with dbmod.transaction(database) as s:
        demo.seed(s, deploy_processes=False)
        definitions.deploy(s, Actor.system(), [(BPMN.name, BPMN.read_bytes())])
    return database, ("PostgreSQL" if schema else "SQLite"), schema


def fill(database: dbmod.Database) -> None:
    """1,000 real cases due at T+1h; 99,000 copies whose timer is a month away (never loaded)."""
    with clock.frozen_at(T):
        with dbmod.transaction(database) as s:
            actor = people.actor_for(s, "idari1")
            for _ in range(DUE):
                instances.start(s, actor, "zamanlayici")
        with dbmod.transaction(database) as s:
            template = s.scalar(select(ProcessInstance).limit(1))
            timer = s.scalar(select(Timer).limit(1))
            row = {c.name: getattr(template, c.key) for c in ProcessInstance.__table__.columns if c.name != "id"}
            row["state"] = "{}"  # never loaded: its timer is not due during the benchmark
            far = T + timedelta(days=30)
            for start in range(DUE, TOTAL, CHUNK):
                n = min(CHUNK, TOTAL - start)
                ids = s.scalars(insert(ProcessInstance).returning(ProcessInstance.id), [row] * n).all()
                s.execute(
                    insert(Timer),
                    [
                        {
                            "instance_id": i,
                            "spiff_task_id": timer.spiff_task_id,
                            "bpmn_id": timer.bpmn_id,
                            "fire_at": far,
                            "status": TimerStatus.WAITING,
                            "attempts": 0,
                        }
                        for i in ids
                    ],
                )
                s.execute(
                    insert(DeadlineWatch),
                    [
                        {
                            "key": f"c:{i}",
                            "kind": "case",
                            "instance_id": i,
                            "process_key": "zamanlayici",
                            "start_at": T,
                            "due_at": far,
                            "next_step": "son_2_gun",
                            "next_at": far,
                            "created_at": T,
                        }
                        for i in ids
                    ],
                )
                s.execute(
                    insert(Notification),
                    [
                        {
                            "channel": "email",
                            "recipient": "x@example.org",
                            "subject": "s",
                            "body": "b",
                            "status": outbox.SENT,
                            "attempts": 1,
                            "next_attempt_at": T,
                            "created_at": T,
                            "sent_at": T,
                        }
                    ]
                    * n,
                )
            last_seq = s.scalar(select(func.max(AuditEvent.seq))) or 0
            s.add(SchedulerCursor(name=deadlines.FEED_CURSOR, position=last_seq, updated_at=T))
    if not database.is_sqlite:
        with database.write_engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))


class NullMailer:
    """Counts as a configured transport, so the outbox job really scans its table."""

    def connection(self):  # type: ignore[no-untyped-def]
        raise AssertionError("nothing is due: no connection expected")


def timed(fn, n: int) -> list[float]:  # type: ignore[no-untyped-def]
    samples = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
    return samples


def main() -> None:
    n = 20 if "--quick" in sys.argv else 100
    setup.configure(Settings(instance_dir=Path(tempfile.mkdtemp()), audit_key="bench"), handlers.ALL)
    database, name, schema = open_db()
    t0 = time.perf_counter()
    fill(database)
    with dbmod.read_session(database) as s:
        waiting = s.scalar(select(func.count(Timer.id)).where(Timer.status == TimerStatus.WAITING))
    print(f"{name}: {waiting} waiting timers, {TOTAL} deadline watches, {TOTAL} sent notifications")
    print(f"    (filled in {time.perf_counter() - t0:.1f} s; max RSS {max_rss_mb():.0f} MB)")
    idle = T + timedelta(minutes=30)
    gc.collect()
    rss = rss_mb()
    print("(a) idle scan, timers (nothing due):     ", stats(timed(lambda: timers.fire_due(database, idle), n)))
    print("(a) idle scan, deadlines (nothing due):  ", stats(timed(lambda: deadlines.run(database, idle), n)))
    flush = lambda: outbox.flush(database, mailer=NullMailer(), at=idle)  # noqa: E731
    print("(a) idle scan, outbox (nothing due):     ", stats(timed(flush, n)))
    print(f"    RSS after {3 * n} idle scans: {rss_mb():.0f} MB (before: {rss:.0f} MB)")

    due_at = T + timedelta(hours=2)
    actor = Actor.system()
    samples: list[float] = []
    t0 = time.perf_counter()
    with clock.frozen_at(due_at):
        for instance_id in timers.due_instance_ids(database, due_at, limit=DUE):
            t1 = time.perf_counter()
            with recorded_transaction(database, actor) as s:
                assert timers.fire_instance(s, actor, instance_id, due_at)
            samples.append(time.perf_counter() - t1)
    total = time.perf_counter() - t0
    print(f"(b) fire {DUE} due timers, each:          ", stats(samples))
    print(f"(b) fire {DUE} due timers, total:          {total:8.2f} s   ({DUE / total:.0f} timers/s, one process)")
    with dbmod.read_session(database) as s:
        fired = s.scalar(select(func.count(Timer.id)).where(Timer.status == TimerStatus.FIRED))
    assert fired == DUE, fired
    job = timed(lambda: scheduler.fire_timers(database, scheduler.SchedulerConfig(), due_at), n)
    print("(a) idle scan after firing, timer job:   ", stats(job))
    end, peak = rss_mb(), max_rss_mb()
    print(f"(c) RSS at the end: {end:.0f} MB (before the scans: {rss:.0f} MB; peak, set by the fill: {peak:.0f} MB)")
    if schema:
        with database.write_engine.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))


if __name__ == "__main__":
    main()
