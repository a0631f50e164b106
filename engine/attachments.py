"""Files attached to cases: bytes on disk named by sha256, metadata in the database.

Uploads from people (``upload``, ``upload_for_task``) pass ``check_upload``: a size limit and an
allow-list of document types whose first bytes must match the file's extension. Anyone who may see
a case may list and download its files (``list_for_instance``, ``open_for_download``).

Bytes are written before the transaction commits, so a rolled-back action (a refused form, a
conflict) leaves a file no row names. ``sweep_orphans`` (a scheduler job) removes such files once
they are older than a grace period; ``store`` refreshes the time of a file it reuses, so a file a
transaction is about to reference is never old enough to be swept."""

from __future__ import annotations

import hashlib
import mimetypes
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import audit, clock, comments, instances, permissions, tasks
from engine.actors import Actor
from engine.errors import InvalidInput, NotAllowed, NotFound
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
    """Store an upload for a task's file field; returns the reference the form field takes."""
    task = tasks.show(session, actor, task_id)
    if len(content) > MAX_BYTES:
        raise InvalidInput(
            _("Dosya çok büyük."), field_errors={field: [_("En fazla {mb} MB.", mb=MAX_BYTES // (1024 * 1024))]}
        )
    return store(session, task.instance_id, filename, content, uploaded_by=actor.username, task_id=task.id, field=field)


def store(
    session: Session,
    instance_id: int,
    filename: str,
    content: bytes,
    *,
    uploaded_by: str,
    task_id: int | None = None,
    field: str | None = None,
    content_type: str | None = None,
) -> dict[str, Any]:
    """Write the bytes (content-addressed, atomically) and add the attachment row; returns its reference."""
    sha = hashlib.sha256(content).hexdigest()
    path = path_for(sha)
    try:
        os.utime(path)  # reused: fresh again, so ``sweep_orphans`` leaves it alone
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{sha}.{os.getpid()}.tmp")
        tmp.write_bytes(content)
        tmp.replace(path)
    content_type = content_type or mimetypes.guess_type(filename)[0] or "application/octet-stream"
    row = Attachment(
        instance_id=instance_id,
        task_id=task_id,
        field_name=field,
        filename=Path(filename).name,
        content_type=content_type,
        size=len(content),
        sha256=sha,
        uploaded_by=uploaded_by,
        uploaded_at=clock.now(),
    )
    session.add(row)
    session.flush()
    return {
        "attachment_id": row.id,
        "filename": row.filename,
        "sha256": sha,
        "size": row.size,
        "content_type": content_type,
    }


ORPHAN_GRACE = timedelta(hours=1)
SWEEP_BATCH = 500


@dataclass
class SweepReport:
    checked: int = 0
    removed: int = 0
    removed_bytes: int = 0


def sweep_orphans(session: Session, grace: timedelta = ORPHAN_GRACE) -> SweepReport:
    """Delete stored files no attachment row references and left temporary files, once older than
    ``grace``. Reads the store in batches, so memory stays flat however many files it holds."""
    report = SweepReport()
    cutoff = time.time() - grace.total_seconds()
    batch: list[Path] = []
    for path in _stored_files():
        batch.append(path)
        if len(batch) >= SWEEP_BATCH:
            _sweep_batch(session, batch, cutoff, report)
            batch = []
    _sweep_batch(session, batch, cutoff, report)
    return report


def _stored_files() -> Iterator[Path]:
    if not STORE_DIR.exists():
        return
    for folder in STORE_DIR.iterdir():
        if folder.is_dir() and len(folder.name) == 2:
            yield from folder.iterdir()


def _sweep_batch(session: Session, paths: list[Path], cutoff: float, report: SweepReport) -> None:
    report.checked += len(paths)
    names = [p.name for p in paths if not p.name.endswith(".tmp")]
    referenced = set(session.scalars(select(Attachment.sha256).where(Attachment.sha256.in_(names)))) if names else set()
    for path in paths:
        if path.name in referenced:
            continue
        try:
            stat = path.stat()
            if stat.st_mtime >= cutoff:
                continue  # young: a transaction may still be about to reference it
            path.unlink()
        except FileNotFoundError:
            continue
        report.removed += 1
        report.removed_bytes += stat.st_size


# Extension → (content type, accepted leading bytes; empty: text that must decode as UTF-8).
ZIP, OLE = (b"PK\x03\x04",), (b"\xd0\xcf\x11\xe0",)
ALLOWED_TYPES: dict[str, tuple[str, tuple[bytes, ...]]] = {
    ".pdf": ("application/pdf", (b"%PDF-",)),
    ".png": ("image/png", (b"\x89PNG\r\n\x1a\n",)),
    ".jpg": ("image/jpeg", (b"\xff\xd8\xff",)),
    ".jpeg": ("image/jpeg", (b"\xff\xd8\xff",)),
    ".tif": ("image/tiff", (b"II*\x00", b"MM\x00*")),
    ".tiff": ("image/tiff", (b"II*\x00", b"MM\x00*")),
    ".docx": ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", ZIP),
    ".xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", ZIP),
    ".odt": ("application/vnd.oasis.opendocument.text", ZIP),
    ".ods": ("application/vnd.oasis.opendocument.spreadsheet", ZIP),
    ".doc": ("application/msword", OLE),
    ".xls": ("application/vnd.ms-excel", OLE),
    ".txt": ("text/plain; charset=utf-8", ()),
    ".csv": ("text/csv; charset=utf-8", ()),
}
MAX_LISTED = 200


def check_upload(filename: str, content: bytes, field: str = "file") -> str:
    """The content type of an acceptable upload. Raises InvalidInput (on ``field``) for an empty,
    too large or unaccepted file, or one whose content does not match its extension."""
    name = Path(filename or "").name.strip()
    if not name or not content:
        raise InvalidInput(_("Dosya boş."), field_errors={field: [_("Bir dosya seçin.")]})
    if len(content) > MAX_BYTES:
        raise InvalidInput(
            _("Dosya çok büyük."), field_errors={field: [_("En fazla {mb} MB.", mb=MAX_BYTES // (1024 * 1024))]}
        )
    kind = ALLOWED_TYPES.get(Path(name).suffix.lower())
    if kind is None:
        accepted = ", ".join(sorted({ext.lstrip(".") for ext in ALLOWED_TYPES}))
        raise InvalidInput(
            _("Bu dosya türü kabul edilmiyor."), field_errors={field: [_("Kabul edilen türler: {t}.", t=accepted)]}
        )
    content_type, signatures = kind
    if signatures and not content.startswith(signatures):
        raise InvalidInput(
            _("Dosyanın içeriği uzantısıyla uyuşmuyor."),
            field_errors={field: [_("Dosya bozuk ya da yanlış adlandırılmış.")]},
        )
    if not signatures and not _is_text(content):
        raise InvalidInput(
            _("Dosyanın içeriği uzantısıyla uyuşmuyor."), field_errors={field: [_("Metin dosyası UTF-8 olmalı.")]}
        )
    return content_type


def _is_text(content: bytes) -> bool:
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return "\x00" not in text


def upload_for_task(
    session: Session, actor: Actor, task_id: int, field: str, filename: str, content: bytes
) -> dict[str, Any]:
    """``store_for_task`` for a person's upload: checked by ``check_upload`` first."""
    content_type = check_upload(filename, content, field)
    reference = store_for_task(session, actor, task_id, field, filename, content)
    if reference["content_type"] != content_type:
        row = session.get_one(Attachment, reference["attachment_id"])
        row.content_type = reference["content_type"] = content_type
    return reference


def upload(session: Session, actor: Actor, instance_id: int, filename: str, content: bytes) -> Attachment:
    """Attach a file to a case. Raises NotFound (also for a hidden case), NotAllowed (read-only
    viewers), InvalidInput (see ``check_upload``)."""
    instance = instances.get(session, instance_id)
    permissions.require_can_see_instance(session, actor, instance)
    if not comments.may_contribute(session, actor, instance):
        raise NotAllowed(_("Bu dosyaya ek yükleme yetkiniz yok."))
    content_type = check_upload(filename, content)
    reference = store(session, instance.id, filename, content, uploaded_by=actor.username, content_type=content_type)
    audit.append(
        session,
        actor,
        "attachment.added",
        instance_id=instance.id,
        details={"attachment_id": reference["attachment_id"], "filename": reference["filename"], "size": len(content)},
    )
    return session.get_one(Attachment, reference["attachment_id"])


def list_for_instance(session: Session, actor: Actor, instance_id: int) -> list[Attachment]:
    """The case's files, oldest first (at most ``MAX_LISTED``). Raises NotFound."""
    instance = instances.get(session, instance_id)
    permissions.require_can_see_instance(session, actor, instance)
    return list(
        session.scalars(
            select(Attachment).where(Attachment.instance_id == instance.id).order_by(Attachment.id).limit(MAX_LISTED)
        )
    )


def open_for_download(session: Session, actor: Actor, attachment_id: int) -> tuple[Attachment, Path]:
    """An attachment of a case the actor may see, with the path of its bytes; the download is
    recorded in the audit trail (files carry personal data: KVKK asks who read them). Raises
    NotFound (also for a file of a hidden case, and for bytes missing from the store)."""
    row = session.get(Attachment, attachment_id)
    missing = NotFound(_("Dosya bulunamadı: {id}.", id=attachment_id))
    if row is None or row.instance_id is None:
        raise missing
    instance = instances.get(session, row.instance_id)
    if not permissions.can_see_instance(session, actor, instance):
        raise missing
    path = path_for(row.sha256)
    if not path.is_file():
        raise missing
    audit.append(
        session,
        actor,
        "attachment.downloaded",
        instance_id=row.instance_id,
        task_id=row.task_id,
        details={"attachment_id": row.id, "filename": row.filename},
    )
    return row, path
