"""Per-user account state of the web UI: sign-in throttling and saved inbox filters."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from engine.models.base import Base, JSONType


class LoginThrottle(Base):
    """Failed sign-ins of one username (known or not) and the lock they led to. Kept in the database so
    the count holds across web workers; a successful sign-in deletes the row."""

    __tablename__ = "login_throttle"

    username: Mapped[str] = mapped_column(String(150), primary_key=True)
    failures: Mapped[int] = mapped_column(default=0)
    first_failure_at: Mapped[datetime]
    last_failure_at: Mapped[datetime] = mapped_column(index=True)
    locked_until: Mapped[datetime | None]


class SavedFilter(Base):
    """A named inbox filter of one user: the query parameters of the inbox page."""

    __tablename__ = "saved_filter"
    __table_args__ = (UniqueConstraint("username", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(150), index=True)
    name: Mapped[str] = mapped_column(String(100))
    params: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    created_at: Mapped[datetime]


class WebSession(Base):
    """One sign-in of the web UI. The browser's signed cookie only names the row; signing out (or an
    administrator) ends the row, so a copied cookie opens nothing afterwards."""

    __tablename__ = "web_session"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    username: Mapped[str] = mapped_column(String(150), index=True)
    created_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
