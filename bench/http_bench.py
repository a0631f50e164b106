"""HTTP benchmark (issue #5, item 6): task completions through the REST API against gunicorn with
4 workers on PostgreSQL, measured from the client side. Prints p50/p95/p99 latency of one
completion and completions per second, then checks every case's projections (engine.consistency).

Each completion is ``POST /api/v1/tasks/<id>/complete`` on the intake task of ``test_havale``: form
validation, the gateway, a new directorate task with its boundary timer, inbox entries and audit
rows, all in one transaction. Clients run in threads, one request at a time each.

Usage: KALEM_BENCH_POSTGRES_URL=postgresql://… python bench/http_bench.py [--cases 600] [--clients 16]
       [--workers 4] [--sqlite]   (--sqlite: a temporary SQLite file instead, for a quick look)
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import handlers  # noqa: E402
from engine import consistency, definitions, demo, instances, people, setup, tokens  # noqa: E402
from engine import db as dbmod  # noqa: E402
from engine.actors import Actor  # noqa: E402
from engine.config import Settings  # noqa: E402
from engine.migrate import upgrade  # noqa: E402
from engine.models import HumanTask  # noqa: E402

BIN = Path(sys.executable).parent
DATA = ROOT / "tests" / "data"
FORM = {"konu": "Kaldırım onarımı", "karar": "havale", "hedef_mudurluk": "fen_isleri"}
AUDIT_KEY = "bench-audit-key"


@dataclass
class Target:
    """A throw-away database and the environment a server process needs to use it."""

    db: dbmod.Database
    label: str
    env: dict[str, str]
    schema: str | None

    def drop(self) -> None:
        if self.schema:
            with self.db.write_engine.begin() as conn:
                conn.execute(text(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE'))
        self.db.dispose()


def open_target(*, sqlite: bool, deploy_processes: bool = False, prefix: str = "kalem_hbench") -> Target:
    """A fresh schema on KALEM_BENCH_POSTGRES_URL (or a temporary SQLite file), migrated, with the
    demo people and either ``test_havale`` or every flow under ``processes/``."""
    tmp = Path(tempfile.mkdtemp(prefix="kalem-bench-"))
    pg_url = os.environ.get("KALEM_BENCH_POSTGRES_URL", "")
    if not sqlite and not pg_url:
        sys.exit("KALEM_BENCH_POSTGRES_URL is not set (or pass --sqlite for a quick run on SQLite)")
    if sqlite:
        url, schema = f"sqlite:///{tmp / 'bench.sqlite3'}", None
        server_url = url
    else:
        url, schema = pg_url.replace("postgresql://", "postgresql+psycopg://", 1), f"{prefix}_{os.getpid()}"
        server_url = f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{schema}"
    settings = Settings(instance_dir=tmp / "instance", audit_key=AUDIT_KEY)
    setup.configure(settings, handlers.ALL)
    upgrade(url, schema=schema)
    database = dbmod.connect(url, schema=schema)
    with dbmod.transaction(database) as s:
        demo.seed(s, deploy_processes=deploy_processes)
        if not deploy_processes:
            files = [(n, (DATA / n).read_bytes()) for n in ("havale_test.bpmn", "kayit_formu.form.json")]
            definitions.deploy(s, Actor.system(), files)
    env = {
        **os.environ,
        "KALEM_DATABASE_URL": server_url,
        "KALEM_INSTANCE_DIR": str(tmp / "instance"),
        "KALEM_AUDIT_KEY": AUDIT_KEY,
        "KALEM_SECRET_KEY": "bench-secret",
        "KALEM_SCHEDULER_IN_PROCESS": "0",
        "KALEM_API_RATE_PER_MINUTE": "100000000",
    }
    return Target(database, "SQLite" if sqlite else "PostgreSQL", env, schema)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def gunicorn(env: dict[str, str], *, workers: int, threads: int = 1) -> Iterator[str]:
    """gunicorn serving ``webui:create_app()`` on 127.0.0.1; yields its base URL."""
    port = free_port()
    command = [str(BIN / "gunicorn"), "--workers", str(workers), "--bind", f"127.0.0.1:{port}", "--timeout", "120"]
    if threads > 1:
        command += ["--worker-class", "gthread", "--threads", str(threads)]
    with tempfile.NamedTemporaryFile(prefix="kalem-gunicorn-", suffix=".log", delete=False) as log:
        process = subprocess.Popen(
            [*command, "webui:create_app()"], env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    with urllib.request.urlopen(f"{base}/health", timeout=2):
                        break
                except OSError:
                    if time.monotonic() > deadline or process.poll() is not None:
                        sys.exit(f"gunicorn did not start; see {log.name}")
                    time.sleep(0.1)
            yield base
        finally:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))] if ordered else float("nan")


def latency_row(name: str, samples: list[float]) -> str:
    ms = [s * 1000 for s in samples]
    if not ms:
        return f"{name:<14}{0:>7}"
    return (
        f"{name:<14}{len(ms):>7}{statistics.median(ms):>9.1f}{percentile(ms, 0.95):>9.1f}"
        f"{percentile(ms, 0.99):>9.1f}{max(ms):>9.1f}"
    )


LATENCY_HEADER = f"{'':<14}{'n':>7}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'max ms':>9}"


def check_consistency(target: Target) -> str:
    report = consistency.check_all(target.db)
    with dbmod.read_session(target.db) as s:
        from engine import audit

        chain = audit.verify(s)
    differences = "; ".join(str(d) for d in report.differences[:5])
    return (
        f"consistency: {report.checked} cases checked, {len(report.differences)} differences"
        + (f" ({differences})" if differences else "")
        + f"; audit chain {'verifies' if chain.ok else 'BROKEN'} ({chain.count} events)"
    )


def prepare_cases(target: Target, count: int) -> list[int]:
    """``count`` started cases; returns their intake task ids."""
    with dbmod.transaction(target.db) as s:
        actor = people.actor_for(s, "idari1")
        ids = [instances.start(s, actor, "test_havale").id for _ in range(count)]
    with dbmod.read_session(target.db) as s:
        return list(s.scalars(select(HumanTask.id).where(HumanTask.instance_id.in_(ids)).order_by(HumanTask.id)))


def complete(base: str, token: str, task_id: int) -> int:
    request = urllib.request.Request(
        f"{base}/api/v1/tasks/{task_id}/complete",
        data=json.dumps({"data": FORM}).encode(),
        method="POST",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            response.read()
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=600, help="completions to measure")
    parser.add_argument("--clients", type=int, default=16, help="client threads")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers")
    parser.add_argument("--warmup", type=int, default=40, help="completions before measuring")
    parser.add_argument("--sqlite", action="store_true", help="a temporary SQLite file instead of PostgreSQL")
    args = parser.parse_args()

    target = open_target(sqlite=args.sqlite)
    try:
        started = time.perf_counter()
        task_ids = prepare_cases(target, args.cases + args.warmup)
        with dbmod.transaction(target.db) as s:
            _row, token = tokens.create(s, Actor.system(), "idari1", "http bench", ["tasks:write"])
        print(f"{len(task_ids)} cases ready in {time.perf_counter() - started:.1f} s ({target.label})")
        with gunicorn(target.env, workers=args.workers) as base:
            for task_id in task_ids[: args.warmup]:
                complete(base, token, task_id)
            queue = list(task_ids[args.warmup :])
            lock = threading.Lock()
            samples: list[float] = []
            failures: dict[int, int] = {}

            def client() -> None:
                while True:
                    with lock:
                        if not queue:
                            return
                        task_id = queue.pop()
                    t0 = time.perf_counter()
                    status = complete(base, token, task_id)
                    elapsed = time.perf_counter() - t0
                    with lock:
                        if status == 200:
                            samples.append(elapsed)
                        else:
                            failures[status] = failures.get(status, 0) + 1

            threads = [threading.Thread(target=client) for _ in range(args.clients)]
            t0 = time.perf_counter()
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            wall = time.perf_counter() - t0
        print(
            f"\nTask completions over HTTP: gunicorn {args.workers} workers, {target.label}, "
            f"{args.clients} clients, {len(samples)} completions in {wall:.1f} s"
        )
        print(LATENCY_HEADER)
        print(latency_row("completion", samples))
        print(f"throughput    {len(samples) / wall:.1f} completions/s   failures: {failures or 'none'}")
        print(check_consistency(target))
    finally:
        target.drop()


if __name__ == "__main__":
    main()
