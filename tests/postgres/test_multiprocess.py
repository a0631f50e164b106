"""The production shape under real processes against PostgreSQL: several ``kalem scheduler``
processes and several worker processes share one database. Proves: 1,000 due timers across three
schedulers fire exactly once each; a scheduler killed with SIGKILL mid-batch loses no timer;
200 concurrent completions on distinct tasks lose nothing; concurrent claims of one task from
several processes have exactly one winner. Each test waits on its processes with a timeout."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from factories import act, deploy, read, start
from sqlalchemy import func, select, text

from engine import audit, clock, definitions, instances
from engine.models import AuditEvent, HumanTask, InstanceStatus, Notification, ProcessInstance, Timer, TimerStatus

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

KALEM = str(Path(sys.executable).parent / "kalem")
PG_URL = os.environ.get("KALEM_TEST_POSTGRES_URL", "")
SCHEDULER_DATA = Path(__file__).parent.parent / "scheduler" / "data"
TIMEOUT = 50.0

WORKER = r"""
import json, os, sys, time
from pathlib import Path

from sqlalchemy import text

import handlers
from engine import db as dbmod, people, setup, tasks
from engine.config import Settings
from engine.incidents import recorded_transaction

settings = Settings.from_env()
setup.configure(settings, handlers.ALL)
database = dbmod.from_settings(settings)
mode, go, jobs = sys.argv[1], Path(sys.argv[2]), json.loads(sys.argv[3])
with database.write_engine.connect() as conn:
    conn.execute(text("SELECT 1"))
(go.parent / f"ready-{os.getpid()}").touch()
give_up = time.monotonic() + 30
while not go.exists() and time.monotonic() < give_up:
    time.sleep(0.005)
results = []
for username, task_id in jobs:
    try:
        with recorded_transaction(database) as session:
            actor = people.actor_for(session, username)
            if mode == "complete":
                tasks.complete(session, actor, task_id, {"konu": "yük testi", "karar": "red"})
            else:
                tasks.claim(session, actor, task_id)
        results.append([task_id, "ok"])
    except Exception as exc:
        results.append([task_id, type(exc).__name__])
print(json.dumps(results))
"""


@pytest.fixture
def env(pg_db, request, tmp_path) -> dict[str, str]:
    # Asked for after pg_db, so the SQLite run skips before the PostgreSQL schema is set up.
    pg_schema = request.getfixturevalue("pg_schema")
    url = PG_URL.replace("postgresql://", "postgresql+psycopg://", 1)
    sep = "&" if "?" in url else "?"
    environ = {k: v for k, v in os.environ.items() if not k.startswith("KALEM_")}
    return environ | {
        "KALEM_DATABASE_URL": f"{url}{sep}options=-csearch_path%3D{pg_schema}",
        "KALEM_AUDIT_KEY": "test-audit-key",
        "KALEM_INSTANCE_DIR": str(tmp_path),
        "KALEM_SCHEDULER_TIMER_INTERVAL": "0.2",
        "KALEM_SCHEDULER_DEADLINE_INTERVAL": "3600",
        "KALEM_SCHEDULER_OUTBOX_INTERVAL": "3600",
        "PYTHONUNBUFFERED": "1",
    }


@pytest.fixture
def spawn(env, tmp_path) -> Iterator[Callable[..., subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []

    def run(*args: str) -> subprocess.Popen[bytes]:
        with (tmp_path / f"proc-{len(started)}.log").open("wb") as log:
            proc = subprocess.Popen(list(args), env=env, stdout=log, stderr=subprocess.STDOUT)
        started.append(proc)
        return proc

    yield run
    for proc in started:  # never leave a process behind, whatever the test did
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)


def wait_until(condition: Callable[[], bool], what: str, timeout: float = TIMEOUT, every: float = 0.1) -> None:
    give_up = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > give_up:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(every)


def start_timer_cases(db, n: int) -> None:
    """``n`` cases each waiting on a one-hour timer that fell due an hour ago: one started by the
    engine, the others copies of its rows (the same serialized state and timer), made in SQL."""
    files = [("zamanlayici.bpmn", (SCHEDULER_DATA / "zamanlayici.bpmn").read_bytes())]
    act(db, None, lambda s, a: definitions.deploy(s, a, files))
    with clock.frozen_at(clock.now() - timedelta(hours=2)):
        template = act(db, "idari1", lambda s, a: instances.start(s, a, "zamanlayici").id)
    columns = (
        "definition_id, process_key, subject, confidentiality, status, legal_due_at, state, state_version, "
        "version_id, started_by, started_at, updated_at"
    )
    with db.write_engine.begin() as conn:
        conn.execute(
            text(
                f"INSERT INTO process_instance ({columns}) SELECT {columns} FROM process_instance, "
                "generate_series(1, :copies) WHERE id = :template"
            ),
            {"copies": n - 1, "template": template},
        )
        conn.execute(
            text(
                "INSERT INTO timer (instance_id, spiff_task_id, bpmn_id, fire_at, status, attempts) "
                "SELECT p.id, t.spiff_task_id, t.bpmn_id, t.fire_at, t.status, 0 FROM process_instance p "
                "JOIN timer t ON t.instance_id = :template WHERE p.id <> :template"
            ),
            {"template": template},
        )


def count(db, query) -> int:
    return int(read(db, lambda s: s.scalar(query)) or 0)


def waiting_timers(db) -> int:
    return count(db, select(func.count(Timer.id)).where(Timer.status == TimerStatus.WAITING))


def fired_timers(db) -> int:
    return count(db, select(func.count(Timer.id)).where(Timer.status == TimerStatus.FIRED))


def assert_each_timer_fired_once(db, n: int) -> None:
    assert waiting_timers(db) == 0 and fired_timers(db) == n
    per_instance = read(
        db,
        lambda s: s.execute(select(Notification.instance_id, func.count()).group_by(Notification.instance_id)).all(),
    )
    assert len(per_instance) == n and {c for _i, c in per_instance} == {1}
    completed = select(func.count(ProcessInstance.id)).where(ProcessInstance.status == InstanceStatus.COMPLETED)
    assert count(db, completed) == n
    assert count(db, select(func.count(AuditEvent.id)).where(AuditEvent.action == "timer.fired")) == n
    assert read(db, audit.verify).ok


def test_1000_due_timers_across_three_schedulers_fire_exactly_once(pg_db, spawn, tmp_path):
    start_timer_cases(pg_db, 1000)
    assert waiting_timers(pg_db) == 1000
    procs = [spawn(KALEM, "scheduler") for _ in range(3)]
    wait_until(lambda: waiting_timers(pg_db) == 0, "1,000 timers to fire")
    logs = sorted(tmp_path.glob("proc-*.log"))
    wait_until(lambda: all("Scheduler started" in p.read_text() for p in logs), "every scheduler to start")
    for proc in procs:
        proc.send_signal(signal.SIGTERM)
    for proc, log in zip(procs, logs, strict=True):
        # SIGTERM: the running job finishes, the process exits cleanly
        assert proc.wait(timeout=20) == 0, log.read_text()[-3000:]
    assert_each_timer_fired_once(pg_db, 1000)
    # Each process reports what it fired: the reports add up to exactly 1,000 and the work was shared.
    fired_by = [sum(int(n) for n in re.findall(r"fired timers of (\d+) instances", p.read_text())) for p in logs]
    assert sum(fired_by) == 1000, fired_by
    assert sum(1 for n in fired_by if n) >= 2, fired_by


def test_scheduler_killed_mid_batch_loses_no_timer(pg_db, spawn):
    start_timer_cases(pg_db, 300)
    victim = spawn(KALEM, "scheduler")
    wait_until(lambda: fired_timers(pg_db) >= 40, "the first timers to fire", every=0.02)
    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=10)
    fired = fired_timers(pg_db)
    assert 40 <= fired < 300, "the scheduler was not killed mid-batch"
    # What the killed transaction did is gone whole: a case has fired, notified and ended, or not at all.
    notified = count(pg_db, select(func.count(func.distinct(Notification.instance_id))))
    ended = count(pg_db, select(func.count()).where(ProcessInstance.status == InstanceStatus.COMPLETED))
    assert notified == ended == fired
    # The next run picks the rest up.
    survivor = spawn(KALEM, "scheduler", "--once")
    assert survivor.wait(timeout=TIMEOUT) == 0
    assert_each_timer_fired_once(pg_db, 300)


def run_workers(env: dict[str, str], tmp_path: Path, mode: str, jobs_per_worker: list[list[tuple[str, int]]]) -> list:
    """One OS process per job list; all start acting at the same moment; returns their outcomes."""
    go = tmp_path / "go"
    procs = []
    try:
        for i, jobs in enumerate(jobs_per_worker):
            with (tmp_path / f"worker-{i}.json").open("wb") as out:
                procs.append(
                    subprocess.Popen(
                        [sys.executable, "-c", WORKER, mode, str(go), json.dumps(jobs)],
                        env=env,
                        stdout=out,
                        stderr=subprocess.STDOUT,
                    )
                )
        wait_until(lambda: len(list(tmp_path.glob("ready-*"))) == len(procs), "workers to be ready", every=0.02)
        go.touch()  # all at once
        for proc in procs:
            assert proc.wait(timeout=TIMEOUT) == 0
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)
    return [json.loads((tmp_path / f"worker-{i}.json").read_text().splitlines()[-1]) for i in range(len(procs))]


def test_200_concurrent_completions_on_distinct_tasks_lose_nothing(pg_db, env, tmp_path):
    deploy(pg_db)
    for offset in range(0, 200, 50):
        act(
            pg_db,
            "idari1",
            lambda s, a, o=offset: [instances.start(s, a, "test_havale", business_key=f"Y-{o + i}") for i in range(50)],
        )
    task_ids = read(pg_db, lambda s: s.scalars(select(HumanTask.id).order_by(HumanTask.id)).all())
    assert len(task_ids) == 200
    users = ["idari1", "idari2", "ok.sef", "ok.mudur"]
    jobs = [[(users[w], t) for t in task_ids[w::4]] for w in range(4)]
    results = run_workers(env, tmp_path, "complete", jobs)
    outcomes = [r for worker in results for r in worker]
    assert sorted(t for t, _ in outcomes) == sorted(task_ids)
    assert {o for _, o in outcomes} == {"ok"}
    assert count(pg_db, select(func.count()).where(HumanTask.state == "completed")) == 200
    assert count(pg_db, select(func.count()).where(ProcessInstance.status == InstanceStatus.COMPLETED)) == 200
    assert count(pg_db, select(func.count()).where(AuditEvent.action == "task.completed")) == 200
    assert read(pg_db, audit.verify).ok


def test_concurrent_claims_from_several_processes_have_one_winner(pg_db, env, tmp_path):
    deploy(pg_db)
    start(pg_db)
    task_id = read(pg_db, lambda s: s.scalar(select(HumanTask.id)))
    users = ["idari1", "idari2", "ok.sef", "ok.mudur", "idari2", "ok.sef"]
    results = run_workers(env, tmp_path, "claim", [[(u, task_id)] for u in users])
    outcomes = sorted(o for worker in results for _t, o in worker)
    assert outcomes == ["Conflict"] * 5 + ["ok"]
    claims = count(pg_db, select(func.count()).where(AuditEvent.action == "task.claimed"))
    assert claims == 1 and read(pg_db, audit.verify).ok
