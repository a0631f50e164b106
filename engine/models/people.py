"""Users, groups (roles, lanes, directorates), memberships and substitutions (vekalet)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from engine.models.base import Base, JSONType


class User(Base):
    __tablename__ = "user"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(150), unique=True)
    full_name: Mapped[str] = mapped_column(String(300))
    email: Mapped[str | None] = mapped_column(String(300))
    phone: Mapped[str | None] = mapped_column(String(30))
    title: Mapped[str | None] = mapped_column(String(200))
    password_hash: Mapped[str | None] = mapped_column(String(300))
    is_active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime]

    memberships: Mapped[list[Membership]] = relationship(
        back_populates="user", cascade="all, delete-orphan", lazy="selectin"
    )


class Group(Base):
    """A role or unit; a BPMN lane's name is a group ``code``."""

    __tablename__ = "group"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(100), unique=True)
    name: Mapped[str] = mapped_column(String(300))
    kind: Mapped[str] = mapped_column(String(30), default="role")
    description: Mapped[str | None] = mapped_column(Text)


class Membership(Base):
    """A user in a group; ``is_manager`` lets them reassign and escalate that group's tasks."""

    __tablename__ = "membership"

    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("group.id", ondelete="CASCADE"), primary_key=True)
    is_manager: Mapped[bool] = mapped_column(default=False)

    user: Mapped[User] = relationship(back_populates="memberships")
    group: Mapped[Group] = relationship(lazy="joined")


class Substitution(Base):
    """Vekalet: ``substitute`` acts for ``principal`` between two instants, optionally only
    for some processes (``process_keys``; empty = all)."""

    __tablename__ = "substitution"
    __table_args__ = (Index("ix_substitution_substitute_period", "substitute_id", "starts_at", "ends_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    principal_id: Mapped[int] = mapped_column(ForeignKey("user.id"), index=True)
    substitute_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    process_keys: Mapped[list[str]] = mapped_column(JSONType, default=list)
    reason: Mapped[str] = mapped_column(String(50))
    note: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(150))
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]

    principal: Mapped[User] = relationship(foreign_keys=[principal_id], lazy="joined")
    substitute: Mapped[User] = relationship(foreign_keys=[substitute_id], lazy="joined")

    def details(self) -> dict[str, Any]:
        return {
            "principal": self.principal.username,
            "substitute": self.substitute.username,
            "starts_at": self.starts_at.isoformat(),
            "ends_at": self.ends_at.isoformat(),
            "process_keys": list(self.process_keys),
            "reason": self.reason,
        }


class ApiToken(Base):
    """A bearer token for the REST API: only its SHA-256 is stored; the secret is shown once."""

    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    scopes: Mapped[list[str]] = mapped_column(JSONType)
    created_by: Mapped[str] = mapped_column(String(150))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]

    user: Mapped[User] = relationship(lazy="joined")


class ApiRateWindow(Base):
    """Requests of one API token in the current one-minute window, shared by every web process."""

    __tablename__ = "api_rate_window"

    token_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    window_start: Mapped[int]  # minutes since 1970 (UTC)
    count: Mapped[int]
