"""Deployed, immutable versions of processes, decisions (DMN) and forms."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from engine.models.base import Base, JSONType


class DeployedVersion:
    """Columns every deployed, immutable version has: which thing, which version, its content hash,
    the file it came from, who deployed it and when."""

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(200), index=True)
    version: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64))
    file_name: Mapped[str] = mapped_column(String(300))
    deployed_by: Mapped[str] = mapped_column(String(150))
    deployed_at: Mapped[datetime]


class ProcessDefinition(DeployedVersion, Base):
    """One deployed version of one executable BPMN process.

    ``sources`` is the self-contained bundle the version runs: the BPMN file holding the
    process plus every BPMN/DMN file its call activities and business rule tasks need, as
    they were at deploy time. ``form_bindings`` maps each formKey to the id and content hash of
    the form version it resolved to at deploy time.
    """

    __tablename__ = "process_definition"
    __table_args__ = (UniqueConstraint("key", "version"),)

    name: Mapped[str] = mapped_column(String(300))
    # Deferred: only the spec cache (on a miss) and dependency resolution at deploy read it.
    sources: Mapped[list[dict[str, str]]] = mapped_column(JSONType, deferred=True)
    form_bindings: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    change_note: Mapped[str | None] = mapped_column(Text)


class DecisionDefinition(DeployedVersion, Base):
    """One deployed version of one DMN decision table."""

    __tablename__ = "decision_definition"
    __table_args__ = (UniqueConstraint("key", "version"),)

    name: Mapped[str] = mapped_column(String(300))
    source: Mapped[str] = mapped_column(Text, deferred=True)


class FormDefinitionVersion(DeployedVersion, Base):
    """One deployed version of one ``*.form.json`` form definition."""

    __tablename__ = "form_definition"
    __table_args__ = (UniqueConstraint("key", "version"),)

    title: Mapped[str] = mapped_column(String(300))
    source: Mapped[str] = mapped_column(Text, deferred=True)
