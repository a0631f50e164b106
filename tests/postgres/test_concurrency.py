"""Multi-writer correctness on PostgreSQL: real threads, separate connections."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from threading import Barrier

import pytest
from factories import act, deploy, only_task, read, start
from sqlalchemy import func, select

from engine import audit, tasks
from engine.errors import Conflict
from engine.models import HumanTask

pytestmark = pytest.mark.postgres


def test_concurrent_claims_have_exactly_one_winner(pg_db):
    deploy(pg_db)
    start(pg_db)
    task_id = only_task(pg_db, "idari1", "Task_kayit")["id"]
    users = ["idari1", "idari2", "ok.mudur", "ok.sef"] * 2
    barrier = Barrier(len(users))

    def claim(username: str) -> str:
        barrier.wait()
        try:
            act(pg_db, username, lambda s, a: tasks.claim(s, a, task_id))
            return "won"
        except Conflict:
            return "conflict"

    with ThreadPoolExecutor(len(users)) as pool:
        results = list(pool.map(claim, users))
    assert results.count("won") == 1 and results.count("conflict") == len(users) - 1
    assert read(pg_db, audit.verify).ok


def test_concurrent_completions_on_distinct_instances_lose_nothing(pg_db):
    deploy(pg_db)
    ids = [start(pg_db, business_key=f"EVR-{i}") for i in range(12)]
    task_ids = read(pg_db, lambda s: s.scalars(select(HumanTask.id).where(HumanTask.instance_id.in_(ids))).all())
    data = {"konu": "x", "karar": "red"}

    def complete(task_id: int) -> None:
        act(pg_db, "idari1", lambda s, a: tasks.complete(s, a, task_id, data))

    with ThreadPoolExecutor(6) as pool:
        list(pool.map(complete, task_ids))
    done = read(pg_db, lambda s: s.scalar(select(func.count(HumanTask.id)).where(HumanTask.state == "completed")))
    assert done == len(task_ids)
    report = read(pg_db, audit.verify)
    assert report.ok
