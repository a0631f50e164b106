"""Load run (issue #7, item 5): simulated staff working through the web UI of a real server on
127.0.0.1 for a bounded time, as people do: sign in, open the inbox, claim a task (or take one
already theirs), open it, complete it with valid values of its form (``forms.samples.sample_values``,
a small PDF for file fields), think, repeat.

The server is gunicorn (``--workers`` processes × ``--threads`` threads) on a fresh database with
the demo people and every flow under ``processes/``: PostgreSQL when KALEM_BENCH_POSTGRES_URL is
set, else a temporary SQLite file. Cases are started beforehand and topped up during the run so
that staff always find work. Prints the error count (5xx, broken connections, unexpected answers),
the races lost to colleagues, completions per second and p50/p95/p99 per step; then checks every
case's projections and the audit chain. Exits 1 on any error or inconsistency.

Usage: python bench/load_run.py [--users 50] [--duration 120] [--think 1.0] [--workers 4] [--threads 8]
"""

from __future__ import annotations

import argparse
import http.client
import os
import random
import re
import sys
import threading
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

from sqlalchemy import func, select

sys.path.insert(0, str(Path(__file__).resolve().parent))

from http_bench import LATENCY_HEADER, Target, check_consistency, gunicorn, latency_row, open_target

from engine import db as dbmod
from engine import definitions, demo, instances, people, starting
from engine.actors import Actor
from engine.demo import DIRECTORATES
from engine.models import HumanTask, HumanTaskCandidate, TaskState
from forms.samples import sample_values

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
CLAIM = re.compile(r'action="/tasks/(\d+)/claim"')
UNCLAIM = re.compile(r'action="/tasks/(\d+)/unclaim"')
PDF = b"%PDF-1.4\n% kalem load run\n"
FORM_TYPE = "application/x-www-form-urlencoded"
ATTEMPTS = 6
STAFF_EXCLUDED = {"admin", "admin2"}


@dataclass
class Metrics:
    lock: threading.Lock = field(default_factory=threading.Lock)
    latency: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    def record(self, step: str, seconds: float) -> None:
        with self.lock:
            self.latency[step].append(seconds)

    def count(self, what: str, n: int = 1) -> None:
        with self.lock:
            self.counts[what] += n

    def error(self, text: str) -> None:
        with self.lock:
            self.errors.append(text)


class Session:
    """One browser: a keep-alive connection, the session cookie, no automatic redirects."""

    def __init__(self, base: str, metrics: Metrics) -> None:
        parts = urlsplit(base)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.connection: http.client.HTTPConnection | None = None
        self.cookie = ""
        self.metrics = metrics

    def request(self, step: str, method: str, path: str, body: bytes | None = None, ctype: str = "") -> Any:
        headers = {"Cookie": self.cookie} if self.cookie else {}
        if ctype:
            headers["Content-Type"] = ctype
        for attempt in (1, 2):
            if self.connection is None:
                self.connection = http.client.HTTPConnection(self.host, self.port, timeout=60)
            t0 = time.perf_counter()
            try:
                self.connection.request(method, path, body=body, headers=headers)
                response = self.connection.getresponse()
                text = response.read().decode("utf-8", "replace")
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.connection.close()
                self.connection = None
                if attempt == 2 or method != "GET":
                    raise
                continue
            self.metrics.record(step, time.perf_counter() - t0)
            for name, value in response.getheaders():
                if name.lower() == "set-cookie" and value.startswith("kalem_session="):
                    self.cookie = value.split(";", 1)[0]
            if response.status >= 500:
                self.metrics.error(f"{method} {path} → {response.status}")
            return response.status, response.getheader("Location") or "", text
        raise AssertionError("unreachable")


def multipart(fields: list[tuple[str, str]], files: list[tuple[str, str, bytes]]) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    parts: list[bytes] = []
    for name, value in fields:
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode())
    for name, filename, content in files:
        head = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
            "Content-Type: application/pdf\r\n\r\n"
        )
        parts.append(head.encode() + content + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def form_fields(form: Any, values: dict[str, Any]) -> tuple[list[tuple[str, str]], list[tuple[str, str, bytes]]]:
    """``values`` as a browser posts the task form: check boxes, multi-choices, files."""
    fields: list[tuple[str, str]] = []
    files: list[tuple[str, str, bytes]] = []
    for f in form.fields if form is not None else ():
        if f.type == "file":
            if f.when is None or f.when.holds(values):
                files.append((f.name, f"{f.name}.pdf", PDF))
        elif f.type == "bool":
            fields.append((f"{f.name}__present", "1"))
            if values.get(f.name) in (True, "true"):
                fields.append((f.name, "on"))
        elif f.type == "multichoice":
            fields.append((f"{f.name}__present", "1"))
            fields += [(f.name, str(v)) for v in values.get(f.name) or []]
        elif f.name in values and values[f.name] is not None:
            fields.append((f.name, str(values[f.name])))
    return fields, files


class Directory:
    """What the load generator reads from the database itself (not the server): the form of a task,
    the case data for ``$group`` fields, and who may be chosen in a user field."""

    def __init__(self, target: Target) -> None:
        self.db = target.db
        with dbmod.read_session(self.db) as s:
            self.users = [
                (
                    u.username,
                    {m.group.code for m in u.memberships},
                    {m.group.code for m in u.memberships if m.is_manager},
                )
                for u in people.list_users(s)
                if u.is_active
            ]

    def busiest(self, exclude: set[str]) -> list[str]:
        """Active users, those with the most open tasks offered to their groups first."""
        with dbmod.read_session(self.db) as s:
            rows = s.execute(
                select(HumanTaskCandidate.group_code, func.count())
                .join(HumanTask, HumanTask.id == HumanTaskCandidate.task_id)
                .where(HumanTask.state == TaskState.OPEN)
                .group_by(HumanTaskCandidate.group_code)
            ).all()
        waiting = dict(rows)
        load = {name: sum(waiting.get(g, 0) for g in groups) for name, groups, _m in self.users if name not in exclude}
        return sorted(load, key=lambda name: (-load[name], name))

    def task(self, task_id: int) -> tuple[Any, dict[str, Any]]:
        with dbmod.read_session(self.db) as s:
            task = s.get(HumanTask, task_id)
            if task is None:
                return None, {}
            form = definitions.form_for_task(s, task)
            data = instances.show(s, Actor.system(), task.instance_id).data if form is not None else {}
            return form, data

    def references(self, case_data: dict[str, Any]) -> Any:
        def lookup(field: Any, values: dict[str, Any]) -> list[str]:
            if field.type == "unit":
                return list(DIRECTORATES)
            group = field.group or ""
            if group.startswith("$"):
                base, _sep, role = group[1:].partition("/")
                group = str({**case_data, **values}.get(base) or "") + (f"/{role}" if role else "")
            code, _sep, role = group.partition("/")
            return [
                name
                for name, groups, manages in self.users
                if not code or (code in manages if role else code in groups)
            ]

        return lookup


def sign_in(browser: Session, username: str) -> bool:
    _status, _loc, page = browser.request("sign-in page", "GET", "/login")
    token = CSRF.search(page).group(1)  # type: ignore[union-attr]
    body = urlencode({"username": username, "password": demo.DEMO_PASSWORD, "csrf_token": token}).encode()
    status, _loc, _page = browser.request("sign-in", "POST", "/login", body, FORM_TYPE)
    return status == 302


def take_task(browser: Session, inbox: str, rng: random.Random) -> int | None:
    """A task to work on: the first one already claimed (the "mine" tab), else one of the first ten
    of the group tab, claimed."""
    mine = UNCLAIM.findall(inbox)
    if mine:
        return int(mine[0])
    status, _loc, group = browser.request("inbox", "GET", "/?tab=group")
    claimable = CLAIM.findall(group) if status == 200 else []
    if not claimable:
        return None
    task_id = int(rng.choice(claimable[:10]))
    body = urlencode({"csrf_token": CSRF.search(group).group(1), "next": "/?tab=group"}).encode()  # type: ignore[union-attr]
    status, _loc, _p = browser.request("claim", "POST", f"/tasks/{task_id}/claim", body, FORM_TYPE)
    if status not in (302, 303):
        browser.metrics.error(f"claim {task_id} → {status}")
    return task_id


def complete_task(browser: Session, directory: Directory, task_id: int, token: str) -> str:
    """Submit the task's form with sample values (the next variant when one is refused)."""
    form, case_data = directory.task(task_id)
    for attempt in range(ATTEMPTS):
        values = {}
        if form is not None:
            now = datetime.now().astimezone()
            values = sample_values(form, variant=attempt, now=now, references=directory.references(case_data))
        fields, files = form_fields(form, values)
        body, ctype = multipart([("csrf_token", token), *fields], files)
        status, location, _p = browser.request("complete", "POST", f"/tasks/{task_id}", body, ctype)
        if status == 400:
            browser.metrics.count("form refused, next variant")
            continue
        if status in (302, 303) and urlsplit(location).path == "/":
            return "completed"
        if status in (302, 303, 404, 409):
            return "lost race"
        browser.metrics.error(f"complete {task_id} → {status}")
        return "error"
    return "invalid"


def staff_member(username: str, base: str, directory: Directory, metrics: Metrics, deadline: float, think: float):
    rng = random.Random(username)
    browser = Session(base, metrics)
    if not sign_in(browser, username):
        metrics.error(f"{username}: sign-in refused")
        return
    while time.monotonic() < deadline:
        status, _loc, inbox = browser.request("inbox", "GET", "/")
        if status != 200:
            metrics.error(f"{username}: inbox → {status}")
            return
        task_id = take_task(browser, inbox, rng)
        if task_id is None:
            metrics.count("empty inbox")
            time.sleep(think * rng.uniform(0.5, 1.5))
            continue
        status, _loc, task_page = browser.request("task page", "GET", f"/tasks/{task_id}")
        if status == 404:
            metrics.count("lost race")  # a colleague took it and it left our view
            continue
        if status != 200:
            metrics.error(f"{username}: task page {task_id} → {status}")
            continue
        token = CSRF.search(task_page).group(1)  # type: ignore[union-attr]
        metrics.count(complete_task(browser, directory, task_id, token))
        time.sleep(think * rng.uniform(0.5, 1.5))


class Feeder:
    """Starts cases (as the intake clerk where allowed, else as an administrator) whenever fewer than
    ``low`` tasks are open, so that staff do not run out of work."""

    def __init__(self, target: Target, low: int) -> None:
        self.db, self.low = target.db, low
        self.started = 0
        self.stop = threading.Event()
        with dbmod.read_session(self.db) as s:
            admin = people.actor_for(s, "admin")
            self.options = list(starting.list_startable(s, admin))
        self.turn = 0

    def open_tasks(self) -> int:
        with dbmod.read_session(self.db) as s:
            return int(
                s.scalar(select(func.count()).select_from(HumanTask).where(HumanTask.state == TaskState.OPEN)) or 0
            )

    def top_up(self, count: int) -> None:
        for _ in range(count):
            option = self.options[self.turn % len(self.options)]
            self.turn += 1
            try:
                with dbmod.transaction(self.db) as s:
                    actor = people.actor_for(s, "admin")
                    data = sample_values(option.form, variant=self.turn) if option.form else {}
                    starting.start(s, actor, option.key, data=data, subject=f"Yük testi {self.turn}")
                self.started += 1
            except Exception:  # a flow that needs data from its caller (a call activity's child) is skipped
                self.options.remove(option)
                if not self.options:
                    sys.exit("no process can be started for the load run")

    def run(self) -> None:
        while not self.stop.wait(2.0):
            if self.open_tasks() < self.low:
                self.top_up(20)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=50, help="simulated staff (demo users, reused if fewer)")
    parser.add_argument("--duration", type=float, default=120.0, help="seconds of work")
    parser.add_argument("--think", type=float, default=1.0, help="mean think time between steps, seconds")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn worker processes")
    parser.add_argument("--threads", type=int, default=8, help="threads per worker")
    parser.add_argument("--cases", type=int, default=300, help="cases started before the run")
    args = parser.parse_args()

    target = open_target(
        sqlite=not os.environ.get("KALEM_BENCH_POSTGRES_URL"), deploy_processes=True, prefix="kalem_load"
    )
    try:
        feeder = Feeder(target, low=args.users * 3)
        t0 = time.perf_counter()
        feeder.top_up(args.cases)
        ready = time.perf_counter() - t0
        print(f"{feeder.started} cases started in {ready:.1f} s ({target.label}), {feeder.open_tasks()} open tasks")
        directory, metrics = Directory(target), Metrics()
        staff = directory.busiest(exclude=STAFF_EXCLUDED)
        team = [staff[i % len(staff)] for i in range(args.users)]
        before_run = feeder.started
        with gunicorn(target.env, workers=args.workers, threads=args.threads) as base:
            feeding = threading.Thread(target=feeder.run, daemon=True)
            feeding.start()
            deadline = time.monotonic() + args.duration
            started = time.perf_counter()

            def member(name: str) -> None:
                try:
                    staff_member(name, base, directory, metrics, deadline, args.think)
                except Exception as exc:  # a broken connection or an unparsable page is an error of the run
                    metrics.error(f"{name}: {type(exc).__name__}: {exc}")

            threads = [threading.Thread(target=member, args=(name,)) for name in team]
            for t in threads:
                t.start()
            for t in threads:
                t.join(timeout=args.duration + 120)
            wall = time.perf_counter() - started
            feeder.stop.set()
            feeding.join(timeout=30)
        all_samples = [s for samples in metrics.latency.values() for s in samples]
        print(
            f"\nLoad run: {args.users} staff ({len(set(team))} distinct users), {wall:.0f} s, gunicorn "
            f"{args.workers}×{args.threads} threads, {target.label}, think time ~{args.think:.1f} s"
        )
        print(
            f"requests {len(all_samples)}   errors {len(metrics.errors)}   "
            + "   ".join(f"{k} {v}" for k, v in sorted(metrics.counts.items()))
        )
        done = metrics.counts["completed"]
        print(f"completions {done} ({done / wall:.1f}/s); cases started during the run {feeder.started - before_run}")
        print(LATENCY_HEADER)
        for step in ("sign-in page", "sign-in", "inbox", "claim", "task page", "complete"):
            print(latency_row(step, metrics.latency.get(step, [])))
        print(latency_row("all requests", all_samples))
        for line in metrics.errors[:10]:
            print("error:", line)
        verdict = check_consistency(target)
        print(verdict)
        if metrics.errors or " 0 differences" not in verdict or "verifies" not in verdict:
            sys.exit(1)
    finally:
        target.drop()


if __name__ == "__main__":
    main()
