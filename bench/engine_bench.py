"""Engine benchmark: prints medians and p95 side by side (issue #2, item 9).

(a) SpiffWorkflow alone in memory: load → complete one task → save (the floor)
(b) Kalem's persisted completion (transaction, projections, audit, commit): SQLite, PostgreSQL
(c) inbox query (first page of 50 by due date + total) with 10k and 100k open tasks
(d) completion cost with 1k vs 100k instances in the database

PostgreSQL runs only when KALEM_BENCH_POSTGRES_URL (or KALEM_TEST_POSTGRES_URL) is set.
Usage: python bench/engine_bench.py [--quick]
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import handlers  # noqa: E402
from engine import db as dbmod  # noqa: E402
from engine import definitions, demo, instances, people, setup, tasks  # noqa: E402
from engine.actors import Actor  # noqa: E402
from engine.config import Settings  # noqa: E402
from engine.migrate import upgrade  # noqa: E402
from engine.models import HumanTask, HumanTaskCandidate, InboxEntry, ProcessInstance  # noqa: E402
from engine.runtime.workflow import Runner  # noqa: E402

DATA = ROOT / "tests" / "data"
FILES = [(n, (DATA / n).read_bytes()) for n in ("havale_test.bpmn", "kayit_formu.form.json")]
FORM = {"konu": "Kaldırım", "karar": "havale", "hedef_mudurluk": "fen_isleri"}


def stats(samples: list[float]) -> str:
    ms = sorted(s * 1000 for s in samples)
    p95 = ms[min(len(ms) - 1, int(len(ms) * 0.95))]
    return f"median {statistics.median(ms):7.3f} ms   p95 {p95:7.3f} ms   (n={len(ms)})"


def open_db(url: str, schema: str | None = None) -> dbmod.Database:
    upgrade(url, schema=schema)
    database = dbmod.connect(url, schema=schema)
    with dbmod.transaction(database) as s:
        demo.seed(s, deploy_processes=False)
        definitions.deploy(s, Actor.system(), FILES)
    return database


def start_one(database: dbmod.Database) -> int:
    with dbmod.transaction(database) as s:
        return instances.start(s, people.actor_for(s, "idari1"), "test_havale").id


def first_task(database: dbmod.Database, instance_id: int) -> int:
    with dbmod.read_session(database) as s:
        return s.scalar(select(HumanTask.id).where(HumanTask.instance_id == instance_id))


def bench_spiff_alone(n: int) -> list[float]:
    from engine.advance import runner_options
    from engine.runtime.parser import SourceFile, parse_bundle

    spec, subs = parse_bundle([SourceFile(*FILES[0])]).spec_and_subprocesses("test_havale")
    runner = Runner.start(spec, subs, {}, **runner_options())
    runner.run(lambda *a: {})
    state = runner.dumps()
    samples = []
    for _ in range(n):
        t0 = time.perf_counter()
        r = Runner.load(state, "k1/1.5", spec, subs, **runner_options())
        ready = r.waiting()[0][0]
        r.complete_user_task(ready.spiff_id, FORM, lambda *a: {})
        r.dumps()
        samples.append(time.perf_counter() - t0)
    return samples


def bench_completion(database: dbmod.Database, n: int) -> list[float]:
    ids = [start_one(database) for _ in range(n)]
    task_ids = [first_task(database, i) for i in ids]
    samples = []
    for task_id in task_ids:
        t0 = time.perf_counter()
        with dbmod.transaction(database) as s:
            tasks.complete(s, people.actor_for(s, "idari1"), task_id, FORM)
        samples.append(time.perf_counter() - t0)
    return samples


def fill_tasks(database: dbmod.Database, total: int) -> None:
    """Bulk-insert synthetic open tasks (one carrier instance) until ``total`` open tasks exist."""
    with dbmod.transaction(database) as s:
        carrier = s.scalar(select(ProcessInstance.id).limit(1))
        existing = s.scalar(text("SELECT count(*) FROM human_task WHERE state IN ('open','claimed')"))
        start_id = (s.scalar(text("SELECT coalesce(max(id), 0) FROM human_task")) or 0) + 1
        base = datetime.now(UTC)
        groups = ["idari_isler", "fen_isleri", "zabita", "temizlik_isleri", "imar"]
        insert_tasks(
            s,
            (
                synthetic_task(
                    start_id + i,
                    carrier,
                    groups[i % len(groups)],
                    due=base + timedelta(minutes=i % 50000),
                    created=base,
                )
                for i in range(total - existing)
            ),
        )
    settle(database)


def synthetic_task(
    tid: int,
    instance_id: int,
    group: str,
    *,
    due: datetime,
    created: datetime | None = None,
    priority: int = 50,
    bpmn_id: str = "Task_x",
    name: str = "Sentetik görev",
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """The rows of one open task offered to ``group``: (human_task, candidate, inbox entry)."""
    row = {
        "id": tid,
        "instance_id": instance_id,
        "spiff_task_id": f"{tid:036d}",
        "bpmn_id": bpmn_id,
        "name": name,
        "process_key": "test_havale",
        "business_key": f"B-{tid}",
        "lane": None,
        "form_key": None,
        "state": "open",
        "assignee": None,
        "priority": priority,
        "due_at": due,
        "escalation_level": 0,
        "created_at": created or due - timedelta(days=3),
    }
    entry = {
        "task_id": tid,
        "audience": f"g:{group}",
        "due_sort": due,
        "priority": priority,
        "process_key": "test_havale",
        "shared": False,
    }
    return row, {"task_id": tid, "group_code": group}, entry


def insert_tasks(session, tasks: Iterable[tuple[dict[str, Any], dict[str, Any], dict[str, Any]]]) -> None:  # type: ignore[no-untyped-def]
    """Insert synthetic tasks in batches of 5,000, so memory stays flat however many there are."""
    batch: list[tuple[dict[str, Any], dict[str, Any], dict[str, Any]]] = []
    for task in tasks:
        batch.append(task)
        if len(batch) == 5000:
            _flush(session, batch)
            batch = []
    if batch:
        _flush(session, batch)


def _flush(session, batch) -> None:  # type: ignore[no-untyped-def]
    rows, cands, entries = zip(*batch, strict=True)
    session.execute(insert(HumanTask), list(rows))
    session.execute(insert(HumanTaskCandidate), list(cands))
    session.execute(insert(InboxEntry), list(entries))


def settle(database: dbmod.Database) -> None:
    """After a bulk load, bring PostgreSQL to the steady state autovacuum keeps in production
    (planner statistics, visibility map for index-only counts); SQLite needs nothing."""
    if database.is_sqlite:
        return
    with database.write_engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))


def bench_inbox(database: dbmod.Database, n: int) -> list[float]:
    samples = []
    with dbmod.read_session(database) as s:
        actor = people.actor_for(s, "idari1")
    for _ in range(n):
        t0 = time.perf_counter()
        with dbmod.read_session(database) as s:
            page = tasks.inbox(s, actor, limit=50)
            assert len(page.items) == 50
        samples.append(time.perf_counter() - t0)
    return samples


def fill_instances(database: dbmod.Database, total: int) -> None:
    with dbmod.transaction(database) as s:
        template = s.scalar(select(ProcessInstance).limit(1))
        existing = s.scalar(text("SELECT count(*) FROM process_instance"))
        fields = {c.name: getattr(template, c.key) for c in ProcessInstance.__table__.columns if c.name != "id"}
        batch = []
        for i in range(total - existing):
            batch.append({**fields, "business_key": f"F-{existing}-{i}"})
            if len(batch) == 5000:
                s.execute(insert(ProcessInstance), batch)
                batch = []
        if batch:
            s.execute(insert(ProcessInstance), batch)


def main() -> None:
    quick = "--quick" in sys.argv
    n = 50 if quick else 200
    settings = Settings(instance_dir=Path(tempfile.mkdtemp()), audit_key="bench")
    setup.configure(settings, handlers.ALL)
    print("(a) SpiffWorkflow alone, load → complete → save:  ", stats(bench_spiff_alone(n)))
    sqlite = open_db(f"sqlite:///{settings.instance_dir / 'bench.sqlite3'}")
    print("(b) persisted completion, SQLite:                 ", stats(bench_completion(sqlite, n)))
    pg_url = os.environ.get("KALEM_BENCH_POSTGRES_URL") or os.environ.get("KALEM_TEST_POSTGRES_URL")
    pg = None
    if pg_url:
        pg_url = pg_url.replace("postgresql://", "postgresql+psycopg://", 1)
        schema = f"kalem_bench_{os.getpid()}"
        pg = open_db(pg_url, schema)
        print("(b) persisted completion, PostgreSQL:             ", stats(bench_completion(pg, n)))
    for size in (10_000, 100_000):
        fill_tasks(sqlite, size)
        print(f"(c) inbox first page + total, {size:>7} open, SQLite:", stats(bench_inbox(sqlite, n)))
        if pg is not None:
            fill_tasks(pg, size)
            print(f"(c) inbox first page + total, {size:>7} open, PG:    ", stats(bench_inbox(pg, n)))
    small = open_db(f"sqlite:///{settings.instance_dir / 'small.sqlite3'}")
    start_one(small)
    fill_instances(small, 1_000)
    d1 = stats(bench_completion(small, n))
    fill_instances(small, 100_000)
    d2 = stats(bench_completion(small, n))
    print("(d) completion with   1k instances, SQLite:       ", d1)
    print("(d) completion with 100k instances, SQLite:       ", d2)
    if pg is not None:
        with pg.write_engine.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))


if __name__ == "__main__":
    main()
