"""``kalem backup`` / ``kalem restore``: the whole database and the attachment store in one archive.

The archive (``.tar.gz``) holds ``manifest.json`` (format, schema revision, row counts), one JSON-lines
file per table and the attachment files. Rows are streamed in batches, so memory stays flat however
large the database; the dump is read in one transaction (a consistent snapshot). The format does not
depend on the backend: a SQLite backup restores into PostgreSQL and back. Restore refuses a target
that already holds data or is on another schema revision, and leaves it unchanged on any error.
"""

from __future__ import annotations

import io
import json
import re
import tarfile
import tempfile
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, BinaryIO

from sqlalchemy import Date, DateTime, func, insert, select, text
from sqlalchemy.engine import Connection

from engine import clock
from engine import db as dbmod
from engine.errors import InvalidInput
from engine.i18n import _
from engine.models import Base

FORMAT = "kalem-backup/1"
BATCH = 1000
ATTACHMENT = re.compile(r"attachments/([0-9a-f]{2})/([0-9a-f]{64})")


def _encode(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"cannot back up a {type(value).__name__}")


def _revision(conn: Connection) -> str | None:
    try:
        return conn.scalar(text("SELECT version_num FROM alembic_version"))
    except Exception:
        return None


def backup(db: dbmod.Database, attachment_dir: Path, target: Path) -> dict[str, Any]:
    """Write the archive to ``target``; returns the manifest."""
    counts: dict[str, int] = {}
    with tempfile.TemporaryDirectory() as tmp, tarfile.open(target, "w:gz") as archive:
        with db.read_engine.connect() as conn, conn.begin():
            revision = _revision(conn)
            for table in Base.metadata.sorted_tables:
                path = Path(tmp) / f"{table.name}.jsonl"
                with path.open("w", encoding="utf-8") as out:
                    rows = conn.execution_options(yield_per=BATCH).execute(select(table))
                    counts[table.name] = 0
                    for row in rows.mappings():
                        out.write(json.dumps(dict(row), default=_encode, ensure_ascii=False) + "\n")
                        counts[table.name] += 1
                archive.add(path, arcname=f"tables/{table.name}.jsonl")
                path.unlink()
        files = 0
        for blob in sorted(attachment_dir.glob("??/*")) if attachment_dir.exists() else []:
            if ATTACHMENT.fullmatch(f"attachments/{blob.parent.name}/{blob.name}"):
                archive.add(blob, arcname=f"attachments/{blob.parent.name}/{blob.name}")
                files += 1
        manifest = {
            "format": FORMAT,
            "revision": revision,
            "created_at": clock.now().isoformat(),
            "tables": counts,
            "attachments": files,
        }
        _add_bytes(archive, "manifest.json", json.dumps(manifest, indent=1).encode())
    return manifest


def _add_bytes(archive: tarfile.TarFile, name: str, content: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(content)
    info.mtime = int(clock.now().timestamp())
    archive.addfile(info, io.BytesIO(content))


def restore(db: dbmod.Database, attachment_dir: Path, source: Path) -> dict[str, Any]:
    """Load an archive into an empty, migrated database; returns the manifest."""
    try:
        with tarfile.open(source, "r:gz") as archive:
            return _restore(db, attachment_dir, archive)
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise InvalidInput(_("Yedek dosyası okunamadı: {error}", error=exc)) from None


def _restore(db: dbmod.Database, attachment_dir: Path, archive: tarfile.TarFile) -> dict[str, Any]:
    manifest = _manifest(archive)
    with db.write_engine.connect() as conn, conn.begin():
        _check_target(conn, manifest)
        for table in Base.metadata.sorted_tables:
            member = _member(archive, f"tables/{table.name}.jsonl")
            if member is not None:
                _load_table(conn, table, member)
        if conn.dialect.name == "postgresql":
            _reset_sequences(conn)
    for member in archive.getmembers():
        match = ATTACHMENT.fullmatch(member.name)
        if match and member.isfile():
            path = attachment_dir / match.group(1) / match.group(2)
            path.parent.mkdir(parents=True, exist_ok=True)
            stream = archive.extractfile(member)
            if stream is not None and not path.exists():
                path.write_bytes(stream.read())
    return manifest


def _manifest(archive: tarfile.TarFile) -> dict[str, Any]:
    member = _member(archive, "manifest.json")
    manifest = json.loads(member.read()) if member is not None else None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise InvalidInput(_("Bu bir Kalem yedeği değil (manifest.json eksik ya da biçimi tanınmıyor)."))
    return manifest


def _member(archive: tarfile.TarFile, name: str) -> BinaryIO | None:
    try:
        return archive.extractfile(name)
    except KeyError:
        return None


def _check_target(conn: Connection, manifest: dict[str, Any]) -> None:
    revision = _revision(conn)
    if revision != manifest.get("revision"):
        raise InvalidInput(
            _(
                "Şema sürümü uyuşmuyor: yedek {backup}, hedef {target}. Hedefi aynı sürüme getirin (kalem init-db).",
                backup=manifest.get("revision"),
                target=revision,
            )
        )
    busy = [t.name for t in Base.metadata.sorted_tables if conn.scalar(select(func.count()).select_from(t))]
    if busy:
        raise InvalidInput(
            _(
                "Hedef veritabanı boş değil ({tables}); geri yükleme boş bir veritabanına yapılır.",
                tables=", ".join(busy),
            )
        )


def _load_table(conn: Connection, table: Any, stream: BinaryIO) -> None:
    converters = {
        column.name: _converter(column.type) for column in table.columns if _converter(column.type) is not None
    }
    batch: list[dict[str, Any]] = []
    for line in stream:
        row = json.loads(line)
        for name, convert in converters.items():
            if row.get(name) is not None:
                row[name] = convert(row[name])
        batch.append(row)
        if len(batch) == BATCH:
            conn.execute(insert(table), batch)
            batch = []
    if batch:
        conn.execute(insert(table), batch)


def _converter(column_type: Any) -> Any:
    impl = getattr(column_type, "impl", column_type)
    if isinstance(impl, DateTime):
        return datetime.fromisoformat
    if isinstance(impl, Date):
        return date.fromisoformat
    return None


def _reset_sequences(conn: Connection) -> None:
    for table in Base.metadata.sorted_tables:
        if "id" in table.columns and table.columns["id"].autoincrement in (True, "auto"):
            conn.execute(
                text(
                    f"SELECT setval(pg_get_serial_sequence('\"{table.name}\"', 'id'), "
                    f'COALESCE((SELECT max(id) FROM "{table.name}"), 0) + 1, false)'
                )
            )
