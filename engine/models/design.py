"""Process designers' drafts: BPMN and form files being edited in the browser, per user, not deployed."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from engine.models.base import Base


class DesignDraft(Base):
    """One draft file of one user (``owner``): a ``.bpmn`` or a ``.form.json`` by ``name``.

    ``key`` is the process id or form key read from the content when it could be read; ``base_version``
    is the deployed version the draft started from (None for a new process or form)."""

    __tablename__ = "design_draft"
    __table_args__ = (UniqueConstraint("owner", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    owner: Mapped[str] = mapped_column(String(150), index=True)
    kind: Mapped[str] = mapped_column(String(10))
    name: Mapped[str] = mapped_column(String(300))
    key: Mapped[str | None] = mapped_column(String(200))
    base_version: Mapped[int | None]
    # Deferred: lists show names and dates, only the editor reads the file.
    content: Mapped[str] = mapped_column(Text, deferred=True)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
