"""The attachment store: a rolled-back upload leaves a file that the sweep removes once it is old;
referenced files, young files and files a new upload reuses stay."""

from __future__ import annotations

import hashlib
import os
import time

import pytest
from factories import act, deploy, only_task, start

from engine import attachments, scheduler

OLD = time.time() - 2 * 3600


@pytest.fixture
def store(tmp_path):
    before = (attachments.STORE_DIR, attachments.MAX_BYTES)
    attachments.configure(tmp_path / "ekler", before[1])
    yield tmp_path / "ekler"
    attachments.configure(*before)


def upload(db, task_id: int, content: bytes, *, roll_back: bool = False) -> str:
    def action(session, actor):
        ref = attachments.store_for_task(session, actor, task_id, "ek", "dilekce.pdf", content)
        if roll_back:
            raise RuntimeError("the action failed after the upload")
        return ref["sha256"]

    if roll_back:
        with pytest.raises(RuntimeError):
            act(db, "idari1", action)
        return hashlib.sha256(content).hexdigest()
    return act(db, "idari1", action)


def test_the_sweep_removes_only_old_unreferenced_files(db, store) -> None:
    deploy(db)
    start(db, business_key="EK-1")
    task = only_task(db, "idari1", "Task_kayit")
    kept = upload(db, task["id"], b"%PDF-1.4 kalan")
    lost = upload(db, task["id"], b"%PDF-1.4 geri alinan", roll_back=True)
    assert attachments.path_for(lost).exists()  # the bytes outlived the rolled-back row
    stale_tmp = attachments.path_for(kept).with_name("deadbeef.1.tmp")
    stale_tmp.write_bytes(b"half")

    # Young files stay: a transaction may be about to reference them.
    assert scheduler.sweep_attachments(db, scheduler.SchedulerConfig()) == 0
    for path in (attachments.path_for(kept), attachments.path_for(lost), stale_tmp):
        os.utime(path, (OLD, OLD))
    assert scheduler.sweep_attachments(db, scheduler.SchedulerConfig()) == 2
    assert attachments.path_for(kept).exists()
    assert not attachments.path_for(lost).exists() and not stale_tmp.exists()


def test_a_reused_old_file_is_refreshed_and_not_swept(db, store) -> None:
    deploy(db)
    start(db, business_key="EK-2")
    task = only_task(db, "idari1", "Task_kayit")
    content = b"%PDF-1.4 ayni icerik"
    sha = upload(db, task["id"], content, roll_back=True)
    os.utime(attachments.path_for(sha), (OLD, OLD))
    # A new upload of the same bytes reuses the orphan file: it becomes young again, then referenced.
    assert upload(db, task["id"], content) == sha
    assert scheduler.sweep_attachments(db, scheduler.SchedulerConfig()) == 0
    assert attachments.path_for(sha).read_bytes() == content
