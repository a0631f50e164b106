"""Crash proof: the web server is killed with SIGKILL in the middle of a stream of task completions
over the REST API, then restarted.

A real server process on 127.0.0.1 (``kalem serve`` on a file SQLite; gunicorn with 4 workers on
PostgreSQL when KALEM_TEST_POSTGRES_URL is set) serves eight client threads that drive cases through
``test_havale``: complete the intake (routing to Fen İşleri, which creates a task with a boundary
timer), complete the directorate's answer (which cancels the timer and subscribes to a message),
deliver the message (which runs a service task and ends the case). When a third of the writes are
acknowledged the whole process group gets SIGKILL. After a restart: every acknowledged completion
is there; every instance's projections equal what its stored workflow state implies
(``engine.consistency``, also as ``kalem check``); ``kalem audit verify`` exits 0; and the stream,
resumed, finishes every case."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from factories import act, deploy, read
from sqlalchemy import select, text

from engine import consistency, demo, tokens
from engine import db as dbmod
from engine.migrate import upgrade
from engine.models import HumanTask, InstanceStatus, ProcessInstance

pytestmark = pytest.mark.slow

BIN = Path(sys.executable).parent
PG_URL = os.environ.get("KALEM_TEST_POSTGRES_URL", "")
BACKENDS = ["sqlite", "postgres"] if PG_URL else ["sqlite"]
CASES = 60
THREADS = 8
KILL_AFTER = CASES  # acknowledged writes before SIGKILL: a third of the stream (3 writes per case)
TIMEOUT = 60.0


@dataclass
class Stack:
    """A database prepared for the stream, and how to start a server on it."""

    backend: str
    db: dbmod.Database
    url: str
    env: dict[str, str]
    tokens: dict[str, str] = field(default_factory=dict)
    cases: list[tuple[int, str, int]] = field(default_factory=list)  # (instance, business key, intake task)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(params=BACKENDS)
def stack(request: pytest.FixtureRequest, tmp_path: Path, settings: Any) -> Iterator[Stack]:
    schema = None
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'crash.sqlite3'}"
        upgrade(url)
        db = dbmod.connect(url)
        server_url = url
    else:
        base = PG_URL.replace("postgresql://", "postgresql+psycopg://", 1)
        schema = f"kalem_crash_{os.getpid()}"
        upgrade(base, schema=schema)
        db = dbmod.connect(base, schema=schema)
        server_url = f"{base}{'&' if '?' in base else '?'}options=-csearch_path%3D{schema}"
    env = {
        **os.environ,
        "KALEM_DATABASE_URL": server_url,
        "KALEM_INSTANCE_DIR": str(tmp_path / "instance"),
        "KALEM_AUDIT_KEY": settings.audit_key,
        "KALEM_SECRET_KEY": "crash-test-secret",
        "KALEM_SCHEDULER_IN_PROCESS": "0",
        "KALEM_API_RATE_PER_MINUTE": "1000000",
    }
    stack = Stack(request.param, db, server_url, env)
    try:
        with dbmod.transaction(db) as session:
            demo.seed(session, deploy_processes=False)
        deploy(db, "havale_test.bpmn", "kayit_formu.form.json")
        for username in ("idari1", "fenisleri.memur"):
            stack.tokens[username] = act(
                db, "admin", lambda s, a, u=username: tokens.create(s, a, u, "crash", sorted(tokens.SCOPES))[1]
            )
        from engine import instances

        for n in range(CASES):
            key = f"CRASH-{n:03d}"
            instance_id = act(db, "idari1", lambda s, a, k=key: instances.start(s, a, "test_havale", business_key=k).id)
            intake = read(db, lambda s, i=instance_id: s.scalar(select(HumanTask.id).where(HumanTask.instance_id == i)))
            stack.cases.append((instance_id, key, intake))
        yield stack
    finally:
        if schema is not None:
            with db.write_engine.begin() as conn:
                conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        db.dispose()


class Server:
    """``kalem serve`` (SQLite) or gunicorn with 4 workers (PostgreSQL), in its own process group."""

    def __init__(self, stack: Stack, log: Path) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        if stack.backend == "sqlite":
            command = [str(BIN / "kalem"), "serve", "--host", "127.0.0.1", "--port", str(self.port)]
        else:
            command = [
                str(BIN / "gunicorn"),
                "--workers",
                "4",
                "--bind",
                f"127.0.0.1:{self.port}",
                "--timeout",
                "60",
                "webui:create_app()",
            ]
        self.log = log.open("ab")
        self.process = subprocess.Popen(
            command, env=stack.env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True
        )
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.base}/health", timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.1)
        self.kill()
        raise AssertionError(f"server did not start: {log.read_text(errors='replace')[-2000:]}")

    def kill(self) -> None:
        """SIGKILL to the whole process group: master and workers die mid-request."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)
        self.log.close()


def call(base: str, token: str, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        f"{base}/api/v1{path}",
        data=data,
        method=method,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


@dataclass
class Stream:
    """Eight threads driving cases to their end; ``acked`` holds the writes the server confirmed."""

    stack: Stack
    base: str
    stop: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    acked: list[tuple[str, int]] = field(default_factory=list)
    broken: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)

    def ack(self, what: str, ref: int) -> None:
        with self.lock:
            self.acked.append((what, ref))

    def drive(self, case: tuple[int, str, int]) -> None:
        """Advance one case as far as it goes from wherever it is (so it also resumes after a crash)."""
        instance_id, key, _intake = case
        clerk, directorate = self.stack.tokens["idari1"], self.stack.tokens["fenisleri.memur"]
        for _step in range(4):
            if self.stop.is_set():
                return
            status, detail = call(self.base, clerk, "GET", f"/instances/{instance_id}")
            if status != 200:
                self.unexpected.append(f"GET instance {instance_id} → {status} {detail}")
                return
            if detail["status"] == "completed":
                return
            open_tasks = {t["bpmn_id"]: t["id"] for t in detail["open_tasks"]}
            if "Task_kayit" in open_tasks:
                task_id = open_tasks["Task_kayit"]
                body = {"data": {"konu": f"Yol {key}", "karar": "havale", "hedef_mudurluk": "fen_isleri"}}
                status, answer = call(self.base, clerk, "POST", f"/tasks/{task_id}/complete", body)
                what = "task"
            elif "Task_cevap" in open_tasks:
                task_id = open_tasks["Task_cevap"]
                status, answer = call(self.base, directorate, "POST", f"/tasks/{task_id}/complete", {"data": {}})
                what = "task"
            elif any(w["type"] == "message" for w in detail["waiting"]):
                task_id = instance_id
                body = {"name": "mudurluk_yaniti", "business_key": key, "data": {"metin": f"Yanıt {key}"}}
                status, answer = call(self.base, directorate, "POST", "/messages", body)
                what = "message"
            else:
                self.unexpected.append(f"instance {instance_id} waits on nothing known: {detail}")
                return
            if status == 200:
                self.ack(what, task_id)
            elif status != 409:  # 409: done by a request whose answer was lost; read the case again
                self.unexpected.append(f"{what} {task_id} → {status} {answer}")
                return

    def run(self, cases: list[tuple[int, str, int]], kill_after: int | None = None, server: Server | None = None):
        queue = list(cases)

        def worker() -> None:
            while not self.stop.is_set():
                with self.lock:
                    if not queue:
                        return
                    case = queue.pop(0)
                try:
                    self.drive(case)
                except OSError as exc:  # the server died under this request
                    with self.lock:
                        self.broken.append(f"{case[0]}: {type(exc).__name__}")
                    return

        threads = [threading.Thread(target=worker) for _ in range(THREADS)]
        for t in threads:
            t.start()
        if kill_after is not None and server is not None:
            deadline = time.monotonic() + TIMEOUT
            while len(self.acked) < kill_after and time.monotonic() < deadline and any(t.is_alive() for t in threads):
                time.sleep(0.001)
            server.kill()
            self.stop.set()
        for t in threads:
            t.join(timeout=TIMEOUT)
        assert not any(t.is_alive() for t in threads)


def kalem(stack: Stack, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / "kalem"), *args], env=stack.env, capture_output=True, text=True, timeout=TIMEOUT)


def assert_consistent(stack: Stack) -> None:
    report = consistency.check_all(stack.db, batch_size=25)
    assert report.checked == CASES and report.differences == []
    checked = kalem(stack, "check")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    verified = kalem(stack, "audit", "verify")
    assert verified.returncode == 0, verified.stdout + verified.stderr


def test_sigkill_mid_stream_loses_nothing_and_leaves_no_inconsistency(stack: Stack, tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    server = Server(stack, log)
    crashed = Stream(stack, server.base)
    crashed.run(stack.cases, kill_after=KILL_AFTER, server=server)
    assert crashed.unexpected == []
    assert KILL_AFTER <= len(crashed.acked) < 3 * CASES, "the kill did not land mid-stream"
    assert crashed.broken, "no request was in flight when the server died"
    print(f"{stack.backend}: SIGKILL after {len(crashed.acked)} acknowledged writes, {len(crashed.broken)} in flight")

    # Every acknowledged write survived the crash.
    def completed_tasks(session: Any) -> set[int]:
        return set(session.scalars(select(HumanTask.id).where(HumanTask.state == "completed")))

    done = read(stack.db, completed_tasks)
    assert {ref for what, ref in crashed.acked if what == "task"} <= done
    finished = read(
        stack.db,
        lambda s: set(s.scalars(select(ProcessInstance.id).where(ProcessInstance.status == InstanceStatus.COMPLETED))),
    )
    assert {ref for what, ref in crashed.acked if what == "message"} <= finished

    # Restarted: consistent before anything else happens, then the stream finishes every case.
    restarted = Server(stack, log)
    try:
        assert_consistent(stack)
        resumed = Stream(stack, restarted.base)
        resumed.run(stack.cases)
        assert resumed.unexpected == [] and resumed.broken == []
    finally:
        restarted.kill()
    statuses = read(stack.db, lambda s: list(s.scalars(select(ProcessInstance.status))))
    assert statuses == [InstanceStatus.COMPLETED] * CASES
    assert_consistent(stack)
