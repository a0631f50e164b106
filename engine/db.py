"""Database engines, sessions and the one transaction helper every caller uses.

Engine functions flush and never commit; the caller wraps one action in ``transaction()``.
On SQLite, write transactions start with ``BEGIN IMMEDIATE`` so writers queue instead of
failing mid-way; on PostgreSQL, instance rows are locked with ``SELECT ... FOR UPDATE``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import quote

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from engine.config import Settings
from engine.errors import Conflict
from engine.i18n import _

T = TypeVar("T")


def _sqlite_engine(url: str, begin: str) -> Engine:
    engine = create_engine(url, connect_args={"timeout": 30})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event emit BEGIN itself (pysqlite's own is deferred and late).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        # WAL: readers never block the writer. FULL: a committed action survives a power cut.
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        # Integrity of instance/task links is enforced by the database, not only by the code.
        cursor.execute("PRAGMA foreign_keys=ON")
        # Wait for a concurrent writer instead of failing at once with "database is locked".
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # IMMEDIATE takes the write lock up front, so two writers never deadlock on upgrade.
        conn.exec_driver_sql(begin)

    return engine


@dataclass
class Database:
    """The engines and session factories of one database."""

    url: str
    write_engine: Engine
    read_engine: Engine
    write_sessions: sessionmaker[Session]
    read_sessions: sessionmaker[Session]
    schema: str | None = None

    @property
    def process_url(self) -> str:
        """A URL another process (``kalem``, a worker) can open to reach this same database, its
        PostgreSQL schema included."""
        if not self.schema:
            return self.url
        return f"{self.url}{'&' if '?' in self.url else '?'}options={quote(f'-csearch_path={self.schema}')}"

    @property
    def is_sqlite(self) -> bool:
        return self.write_engine.dialect.name == "sqlite"

    def dispose(self) -> None:
        self.write_engine.dispose()
        if self.read_engine is not self.write_engine:
            self.read_engine.dispose()


def connect(url: str, *, schema: str | None = None) -> Database:
    """Open a database by URL; ``schema`` (PostgreSQL only) isolates test runs."""
    if url.startswith("sqlite"):
        write = _sqlite_engine(url, "BEGIN IMMEDIATE")
        read = _sqlite_engine(url, "BEGIN")
    else:
        options: dict[str, Any] = {"pool_pre_ping": True}
        if schema:
            options["connect_args"] = {"options": f"-csearch_path={schema}"}
        write = read = create_engine(url, **options)
    return Database(
        url=url,
        write_engine=write,
        read_engine=read,
        write_sessions=sessionmaker(write, expire_on_commit=False),
        read_sessions=sessionmaker(read, expire_on_commit=False),
        schema=schema,
    )


def from_settings(settings: Settings) -> Database:
    url = settings.effective_database_url
    if url.startswith("sqlite:///"):
        settings.instance_dir.mkdir(parents=True, exist_ok=True)
    return connect(url)


@contextmanager
def transaction(db: Database) -> Iterator[Session]:
    """One write transaction: commit on success, roll back and re-raise on any error.

    A stale optimistic-lock version becomes ``Conflict``.
    """
    session = db.write_sessions()
    try:
        with session.begin():
            yield session
    except StaleDataError as exc:
        raise Conflict(
            _("Kayıt siz işlem yaparken başkası tarafından değiştirildi; yenileyip tekrar deneyin.")
        ) from exc
    finally:
        session.close()


def per_transaction(session: Session, key: str, compute: Callable[[], T]) -> T:
    """``compute()`` once per transaction of ``session``; later calls in it get the same value."""
    transaction = session.get_transaction()
    cached = session.info.get(key)
    if cached is not None and cached[0] is transaction:
        value: T = cached[1]
        return value
    value = compute()
    session.info[key] = (transaction, value)
    return value


@contextmanager
def read_session(db: Database) -> Iterator[Session]:
    """A read-only session; closing it ends (rolls back) its transaction. Objects read stay
    usable, detached, with the attributes they had loaded."""
    session = db.read_sessions()
    try:
        yield session
    finally:
        session.close()
