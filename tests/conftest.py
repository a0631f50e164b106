"""Shared fixtures: a migrated database per test (SQLite always; PostgreSQL too when
KALEM_TEST_POSTGRES_URL is set), demo people seeded once, and the engine configured."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

import handlers
from engine import db as dbmod
from engine import demo, setup
from engine.config import Settings
from engine.migrate import upgrade
from engine.models import Base

DATA = Path(__file__).parent / "data"
PG_URL = os.environ.get("KALEM_TEST_POSTGRES_URL", "")
# People are seeded once per run and kept; everything else is emptied after each test.
KEEP_TABLES = {"user", "group", "membership", "alembic_version"}
BACKENDS = ["sqlite", "postgres"] if PG_URL else ["sqlite"]


def pg_sqlalchemy_url(url: str) -> str:
    return url.replace("postgresql://", "postgresql+psycopg://", 1) if url.startswith("postgresql://") else url


@pytest.fixture(scope="session")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    instance_dir = tmp_path_factory.mktemp("instance")
    s = Settings(instance_dir=instance_dir, audit_key="test-audit-key", script_time_limit=1.0)
    setup.configure(s, handlers.ALL)
    return s


@pytest.fixture(autouse=True)
def engine_configured(settings: Settings) -> None:
    """Every test starts from the session's engine configuration (attachment folder, audit key,
    script time limit), whatever an app or a CLI run in an earlier test wired in."""
    setup.configure(settings, handlers.ALL)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory, settings: Settings) -> Path:
    path = tmp_path_factory.mktemp("template") / "kalem.sqlite3"
    upgrade(f"sqlite:///{path}")
    database = dbmod.connect(f"sqlite:///{path}")
    with dbmod.transaction(database) as session:
        demo.seed(session, deploy_processes=False)
    database.dispose()
    return path


@pytest.fixture(scope="session")
def pg_schema(settings: Settings) -> Iterator[str]:
    schema = f"kalem_test_{os.getpid()}"
    url = pg_sqlalchemy_url(PG_URL)
    upgrade(url, schema=schema)
    database = dbmod.connect(url, schema=schema)
    with dbmod.transaction(database) as session:
        demo.seed(session, deploy_processes=False)
    yield schema
    with database.write_engine.begin() as conn:
        conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    database.dispose()


@pytest.fixture(params=BACKENDS)
def db(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> Iterator[dbmod.Database]:
    if request.param == "sqlite":
        path = tmp_path / "kalem.sqlite3"
        shutil.copy(sqlite_template, path)
        database = dbmod.connect(f"sqlite:///{path}")
        yield database
        database.dispose()
        return
    schema = request.getfixturevalue("pg_schema")
    database = dbmod.connect(pg_sqlalchemy_url(PG_URL), schema=schema)
    yield database
    tables = [t.name for t in Base.metadata.sorted_tables if t.name not in KEEP_TABLES]
    with database.write_engine.begin() as conn:
        conn.execute(text("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE"))
    database.dispose()


@pytest.fixture
def pg_db(db: dbmod.Database) -> dbmod.Database:
    if db.is_sqlite:
        pytest.skip("PostgreSQL-only proof: runs on the postgres backend (KALEM_TEST_POSTGRES_URL)")
    return db
