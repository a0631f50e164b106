"""Memory benchmark: the resident memory of a real web worker and of a scheduler run with 100k
instances stored (target: under 200 MB each, and flat as the database grows).

The database is filled in this process; the measured processes are separate: one gunicorn worker
serving every staff, manager, auditor and statistics page (exports included, streamed), then
``kalem scheduler --once``. RSS is read from /proc after a warm-up and after every page has been
asked for ``rounds`` times, so growth per request shows. SQLite by default; PostgreSQL too when
KALEM_BENCH_POSTGRES_URL (or KALEM_TEST_POSTGRES_URL) is set.

The web peak is set by sign-ins (argon2 verifies with 64 MiB of working memory), not by the data.

Usage: python bench/memory_bench.py [--quick]   (--quick: 20k instances instead of 100k)
"""

from __future__ import annotations

import http.cookiejar
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

from sqlalchemy import text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from engine_bench import open_db, start_one  # noqa: E402
from web_bench import fill_cases, sample_task  # noqa: E402

import handlers  # noqa: E402
from engine import db as dbmod  # noqa: E402
from engine import setup  # noqa: E402
from engine.config import Settings  # noqa: E402

BIN = Path(sys.executable).parent
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
AUDIT_KEY = "bench"
APP = "webui:create_app()"


def rss_mb(pid: int) -> tuple[float, float]:
    """(current, peak) resident memory of a process, from /proc (Linux)."""
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Browser:
    """A signed-in staff member talking to the server over HTTP (cookies, CSRF)."""

    def __init__(self, base: str, username: str) -> None:
        self.base = base
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
        token = CSRF.search(self.get("/login"))
        assert token is not None, "no CSRF token on /login"
        form = {"username": username, "password": "demo", "csrf_token": token.group(1)}
        with self.opener.open(f"{base}/login", data=urllib.parse.urlencode(form).encode()) as response:
            assert "/login" not in response.url, f"{username} could not sign in"

    def get(self, path: str) -> str:
        with self.opener.open(self.base + path, timeout=120) as response:
            assert response.status == 200, (path, response.status)
            chunks = []
            while piece := response.read(64 * 1024):  # streamed exports are read, never kept whole
                if len(chunks) < 4:
                    chunks.append(piece)
            return b"".join(chunks).decode("utf-8", "replace")


def pages(database: dbmod.Database) -> dict[str, list[str]]:
    task_id, instance_id = sample_task(database)
    return {
        "idari1": [
            "/",
            "/?tab=group",
            "/?tab=group&page=200",
            "/?tab=group&status=overdue",
            "/?tab=group&q=b-77",
            f"/tasks/{task_id}",
            f"/instances/{instance_id}",
            "/start",
        ],
        "ok.mudur": ["/manage", "/manage/handover", "/manage/substitutions"],
        "denetci1": ["/audit", "/audit?action=task.created", "/audit/export.csv", "/audit/export.xlsx"],
        "tasarimci1": ["/stats", "/stats/export.csv", "/designer"],
    }


def measure_web(label: str, env: dict[str, str], database: dbmod.Database, rounds: int) -> None:
    port = free_port()
    server = subprocess.Popen(
        [str(BIN / "gunicorn"), "--workers", "1", "--bind", f"127.0.0.1:{port}", "--timeout", "300", APP],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(200):
            try:
                urllib.request.urlopen(f"{base}/health", timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        worker = int(subprocess.check_output(["pgrep", "-P", str(server.pid)]).split()[0])
        routes = pages(database)
        browsers = {username: Browser(base, username) for username in routes}
        for username, paths in routes.items():  # warm-up: imports, templates, caches
            for path in paths:
                browsers[username].get(path)
        warm, _peak = rss_mb(worker)
        t0 = time.perf_counter()
        for _ in range(rounds):
            for username, paths in routes.items():
                for path in paths:
                    browsers[username].get(path)
        now, peak = rss_mb(worker)
        asked = rounds * sum(len(p) for p in routes.values())
        print(
            f"{label:<10} web worker RSS: {warm:6.1f} MB after warm-up, {now:6.1f} MB after {asked} more requests"
            f" ({time.perf_counter() - t0:.0f} s), peak {peak:6.1f} MB"
        )
    finally:
        server.terminate()
        server.wait(timeout=30)


def measure_scheduler(label: str, env: dict[str, str]) -> None:
    """Peak RSS of one ``kalem scheduler --once``: its own VmHWM, sampled until it exits (the rusage
    of a child would also count this process's pages, which it shares until it execs)."""
    proc = subprocess.Popen([str(BIN / "kalem"), "scheduler", "--once"], env=env, cwd=ROOT, stdout=subprocess.DEVNULL)
    peak = 0.0
    while proc.poll() is None:
        try:
            peak = max(peak, rss_mb(proc.pid)[1])
        except (FileNotFoundError, KeyError):  # exiting: /proc no longer shows its memory
            break
        time.sleep(0.01)
    assert proc.wait() == 0, "kalem scheduler --once failed"
    print(f"{label:<10} scheduler --once peak RSS: {peak:6.1f} MB")


def count_instances(database: dbmod.Database) -> int:
    with dbmod.read_session(database) as s:
        return int(s.scalar(text("SELECT count(*) FROM process_instance")) or 0)


def run(label: str, url: str, schema: str | None, settings: Settings, total: int, rounds: int) -> None:
    database = open_db(url, schema)
    start_one(database)
    t0 = time.perf_counter()
    fill_cases(database, total)
    print(f"{label:<10} {count_instances(database)} instances stored (filled in {time.perf_counter() - t0:.0f} s)")
    env = {
        **os.environ,
        "KALEM_DATABASE_URL": url,
        "KALEM_INSTANCE_DIR": str(settings.instance_dir),
        "KALEM_AUDIT_KEY": AUDIT_KEY,
        "KALEM_SCHEDULER_IN_PROCESS": "0",
        "KALEM_LOG_LEVEL": "WARNING",
    }
    if schema:  # the served processes reach the benchmark's schema through the URL
        env["KALEM_DATABASE_URL"] = f"{url}?options={urllib.parse.quote(f'-csearch_path={schema}')}"
    measure_web(label, env, database, rounds)
    measure_scheduler(label, env)
    database.dispose()


def main() -> None:
    quick = "--quick" in sys.argv
    total, rounds = (20_000, 3) if quick else (100_000, 10)
    settings = Settings(instance_dir=Path(tempfile.mkdtemp()), audit_key=AUDIT_KEY)
    setup.configure(settings, handlers.ALL)
    run("SQLite", f"sqlite:///{settings.instance_dir / 'memory.sqlite3'}", None, settings, total, rounds)
    pg_url = os.environ.get("KALEM_BENCH_POSTGRES_URL") or os.environ.get("KALEM_TEST_POSTGRES_URL")
    if pg_url:
        url, schema = pg_url.replace("postgresql://", "postgresql+psycopg://", 1), f"kalem_membench_{os.getpid()}"
        try:
            run("PostgreSQL", url, schema, settings, total, rounds)
        finally:
            cleanup = dbmod.connect(url)
            with cleanup.write_engine.begin() as conn:
                conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
            cleanup.dispose()


if __name__ == "__main__":
    main()
