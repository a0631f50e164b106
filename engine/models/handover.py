"""Devir-teslim records: what a leaving employee's open work was moved to, and the signed-off PDF."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from engine.models.base import Base, JSONType


class Handover(Base):
    """One devir-teslim: every item moved from ``leaving_username`` to ``successor_username`` in one
    transaction (``items``), and the tutanak PDF rendered then (immutable; its sha256 is audited)."""

    __tablename__ = "handover"

    id: Mapped[int] = mapped_column(primary_key=True)
    leaving_username: Mapped[str] = mapped_column(String(150), index=True)
    successor_username: Mapped[str] = mapped_column(String(150), index=True)
    reason: Mapped[str] = mapped_column(String(30))
    last_day: Mapped[date]
    note: Mapped[str | None] = mapped_column(Text)
    items: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    task_count: Mapped[int] = mapped_column(default=0)
    substitution_count: Mapped[int] = mapped_column(default=0)
    deactivated: Mapped[bool] = mapped_column(default=False)
    created_by: Mapped[str] = mapped_column(String(150))
    created_at: Mapped[datetime]
    pdf_sha256: Mapped[str] = mapped_column(String(64))
    # Deferred: lists and pages never read the document, only the download does.
    pdf: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
