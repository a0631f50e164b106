"""Backup and restore: every table and attachment, across backends, refusing unsafe targets."""

from __future__ import annotations

import pytest
from factories import act, deploy, only_task, start
from sqlalchemy import func, select

from engine import attachments, audit, backup, tasks
from engine import db as dbmod
from engine.errors import InvalidInput
from engine.migrate import upgrade
from engine.models import Base


def _counts(database: dbmod.Database) -> dict[str, int]:
    with dbmod.read_session(database) as session:
        return {t.name: session.scalar(select(func.count()).select_from(t)) for t in Base.metadata.sorted_tables}


def _fresh_sqlite(tmp_path, name: str) -> dbmod.Database:
    url = f"sqlite:///{tmp_path / name}"
    upgrade(url)
    return dbmod.connect(url)


def _busy_case(db) -> None:
    deploy(db)
    start(db, business_key="YDK-1")
    task = only_task(db, "idari1", "Task_kayit")
    act(db, "idari1", lambda s, a: attachments.store_for_task(s, a, task["id"], "ek", "dilekce.pdf", b"%PDF-1.4 yedek"))
    act(db, "idari1", lambda s, a: tasks.claim(s, a, task["id"]))


def test_a_backup_restores_into_an_empty_database(db, tmp_path, settings) -> None:
    _busy_case(db)
    archive = tmp_path / "yedek.tar.gz"
    manifest = backup.backup(db, settings.attachment_dir, archive)
    assert manifest["tables"]["process_instance"] == 1 and manifest["attachments"] >= 1
    target = _fresh_sqlite(tmp_path, "hedef.sqlite3")
    restored_files = tmp_path / "ekler"
    backup.restore(target, restored_files, archive)
    assert _counts(target) == _counts(db)
    assert len(list(restored_files.glob("??/*"))) == manifest["attachments"]
    with dbmod.read_session(target) as session:
        assert audit.verify(session).ok
    # The restored database works: the claimed task can be unclaimed there.
    [task] = act(target, "idari1", lambda s, a: tasks.inbox(s, a).items)
    act(target, "idari1", lambda s, a: tasks.unclaim(s, a, task.id))


def test_restore_refuses_a_database_with_data_and_changes_nothing(db, tmp_path, settings) -> None:
    _busy_case(db)
    archive = tmp_path / "yedek.tar.gz"
    backup.backup(db, settings.attachment_dir, archive)
    before = _counts(db)
    with pytest.raises(InvalidInput, match="boş değil"):
        backup.restore(db, tmp_path / "ekler", archive)
    assert _counts(db) == before


def test_restore_refuses_what_is_not_a_backup(tmp_path) -> None:
    target = _fresh_sqlite(tmp_path, "hedef.sqlite3")
    junk = tmp_path / "junk.tar.gz"
    junk.write_bytes(b"not a tarball")
    with pytest.raises(InvalidInput, match="okunamadı"):
        backup.restore(target, tmp_path / "ekler", junk)
