"""Files attached to cases: bytes on disk named by sha256, metadata in the database."""

from __future__ import annotations

import hashlib
import mimetypes
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from engine import clock, tasks
from engine.actors import Actor
from engine.errors import InvalidInput
from engine.i18n import _
from engine.models import Attachment

STORE_DIR: Path = Path("instance") / "attachments"
MAX_BYTES = 20 * 1024 * 1024


def configure(store_dir: Path, max_bytes: int) -> None:
    global STORE_DIR, MAX_BYTES
    STORE_DIR, MAX_BYTES = store_dir, max_bytes


def path_for(sha256: str) -> Path:
    return STORE_DIR / sha256[:2] / sha256


def store_for_task(
    session: Session, actor: Actor, task_id: int, field: str, filename: str, content: bytes
) -> dict[str, Any]:
    """Store an upload for a task's file field; returns the reference the form field takes.
    The file is written before commit: if the action rolls back, an unreferenced blob remains."""
    task = tasks.show(session, actor, task_id)
    if len(content) > MAX_BYTES:
        raise InvalidInput(
            _("Dosya çok büyük."), field_errors={field: [_("En fazla {mb} MB.", mb=MAX_BYTES // (1024 * 1024))]}
        )
    sha = hashlib.sha256(content).hexdigest()
    path = path_for(sha)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(content)
        tmp.replace(path)
    content_type = mimetypes.guess_type(filename)[0] or "application/octet-stream"
    row = Attachment(
        instance_id=task.instance_id,
        task_id=task.id,
        field_name=field,
        filename=Path(filename).name,
        content_type=content_type,
        size=len(content),
        sha256=sha,
        uploaded_by=actor.username,
        uploaded_at=clock.now(),
    )
    session.add(row)
    session.flush()
    return {"attachment_id": row.id, "filename": row.filename, "sha256": sha, "size": row.size}
