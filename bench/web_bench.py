"""Web page benchmark (issue #4): server time of each staff page, rendering included, with 10k open
tasks in 10k cases (SQLite; PostgreSQL too when KALEM_BENCH_POSTGRES_URL or
KALEM_TEST_POSTGRES_URL is set). Prints the median and p95 per page; the target is under 200 ms.

Usage: python bench/web_bench.py [--quick]
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from engine_bench import fill_instances, insert_tasks, open_db, settle, start_one, stats, synthetic_task  # noqa: E402

import handlers  # noqa: E402
from engine import db as dbmod  # noqa: E402
from engine import setup  # noqa: E402
from engine.config import Settings  # noqa: E402
from engine.models import HumanTask, HumanTaskCandidate, ProcessInstance  # noqa: E402
from webui import create_app  # noqa: E402

OPEN_TASKS = 10_000
GROUPS = ["idari_isler", "fen_isleri", "zabita", "temizlik_isleri", "imar"]


def fill_cases(database: dbmod.Database, total: int) -> None:
    """``total`` cases (copies of a real one), each with one synthetic open task, spread over five
    groups, with due dates from the past to two months ahead and the audit rows a case has."""
    fill_instances(database, total)
    with dbmod.transaction(database) as s:
        ids = list(s.scalars(select(ProcessInstance.id).order_by(ProcessInstance.id)))[1:]
        start_id = (s.scalar(text("SELECT coalesce(max(id), 0) FROM human_task")) or 0) + 1
        base = datetime.now(UTC)
        insert_tasks(
            s,
            (
                synthetic_task(
                    start_id + i,
                    instance_id,
                    GROUPS[i % len(GROUPS)],
                    due=base + timedelta(hours=(i % 1500) - 200),
                    created=base - timedelta(days=3),
                    priority=30 + i % 50,
                    bpmn_id="Task_kayit",
                    name=f"Sentetik görev {i % 97}",
                )
                for i, instance_id in enumerate(ids)
            ),
        )
    settle(database)


CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def sample_task(database: dbmod.Database) -> tuple[int, int]:
    """(task id, instance id) of the newest synthetic task of İdari İşler (idari1 may open both)."""
    with dbmod.read_session(database) as s:
        task_id, instance_id = s.execute(
            select(HumanTask.id, HumanTask.instance_id)
            .join(HumanTaskCandidate, HumanTaskCandidate.task_id == HumanTask.id)
            .where(HumanTaskCandidate.group_code == "idari_isler")
            .order_by(HumanTask.id.desc())
            .limit(1)
        ).one()
    return int(task_id), int(instance_id)


def pages(database: dbmod.Database) -> list[tuple[str, str]]:
    task_id, instance_id = sample_task(database)
    return [
        ("inbox, mine", "/"),
        ("inbox, group tab (2k of 10k)", "/?tab=group"),
        ("inbox, group, page 40", "/?tab=group&page=40"),
        ("inbox, by priority", "/?tab=group&sort=priority"),
        ("inbox, approaching", "/?tab=group&status=approaching"),
        ("inbox, search 'B-77'", "/?tab=group&q=b-77"),
        ("inbox, directorate", "/?tab=group&directorate=fen_isleri"),
        ("task page", f"/tasks/{task_id}"),
        ("instance page", f"/instances/{instance_id}"),
        ("start list", "/start"),
    ]


def bench(label: str, database: dbmod.Database, settings: Settings, n: int) -> None:
    app = create_app(settings, database=database)
    client = app.test_client()
    token = CSRF.search(client.get("/login").get_data(as_text=True))
    assert token is not None
    response = client.post("/login", data={"username": "idari1", "password": "demo", "csrf_token": token.group(1)})
    assert response.status_code == 302, response.status_code
    for name, path in pages(database):
        client.get(path)  # warm-up: templates compile on first use
        samples = []
        for _ in range(n):
            t0 = time.perf_counter()
            response = client.get(path)
            samples.append(time.perf_counter() - t0)
            assert response.status_code == 200, (path, response.status_code)
        print(f"{label:<10} {name:<28} {stats(samples)}")


def main() -> None:
    n = 10 if "--quick" in sys.argv else 50
    # Request lines would drown the figures: only warnings are logged while measuring.
    settings = Settings(instance_dir=Path(tempfile.mkdtemp()), audit_key="bench", extra={"KALEM_LOG_LEVEL": "WARNING"})
    setup.configure(settings, handlers.ALL)
    sqlite = open_db(f"sqlite:///{settings.instance_dir / 'web.sqlite3'}")
    start_one(sqlite)
    fill_cases(sqlite, OPEN_TASKS)
    bench("SQLite", sqlite, settings, n)
    pg_url = os.environ.get("KALEM_BENCH_POSTGRES_URL") or os.environ.get("KALEM_TEST_POSTGRES_URL")
    if pg_url:
        schema = f"kalem_webbench_{os.getpid()}"
        pg = open_db(pg_url.replace("postgresql://", "postgresql+psycopg://", 1), schema)
        try:
            start_one(pg)
            fill_cases(pg, OPEN_TASKS)
            bench("PostgreSQL", pg, settings, n)
        finally:
            with pg.write_engine.begin() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))


if __name__ == "__main__":
    main()
