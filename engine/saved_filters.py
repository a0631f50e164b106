"""Saved inbox filters: a user names the query parameters of an inbox view to come back to it.

Each user sees and changes only their own filters; the parameters kept are the inbox's known ones.
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine import clock
from engine.actors import Actor
from engine.errors import InvalidInput, NotFound
from engine.i18n import _
from engine.models import SavedFilter

PARAMS = ("tab", "process", "directorate", "status", "q", "sort", "per_page")
MAX_NAME = 100
MAX_VALUE = 200
MAX_PER_USER = 50


def list_for(session: Session, actor: Actor) -> list[SavedFilter]:
    """The actor's saved filters, by name."""
    return list(
        session.scalars(select(SavedFilter).where(SavedFilter.username == actor.username).order_by(SavedFilter.name))
    )


def get(session: Session, actor: Actor, filter_id: int) -> SavedFilter:
    """One of the actor's own filters. Raises NotFound (also for another user's filter)."""
    row = session.get(SavedFilter, filter_id)
    if row is None or row.username != actor.username:
        raise NotFound(_("Kayıtlı süzgeç bulunamadı."))
    return row


def save(session: Session, actor: Actor, name: str, params: Mapping[str, str]) -> SavedFilter:
    """Save (or replace, by name) a filter. Raises InvalidInput for a bad name or too many filters."""
    name = " ".join(name.split())
    if not name or len(name) > MAX_NAME:
        raise InvalidInput(
            _("Süzgeç adı geçersiz."), field_errors={"name": [_("1 ile {n} karakter arasında olmalı.", n=MAX_NAME)]}
        )
    kept = {k: str(v)[:MAX_VALUE] for k, v in params.items() if k in PARAMS and v}
    row = session.scalar(select(SavedFilter).where(SavedFilter.username == actor.username, SavedFilter.name == name))
    if row is None:
        count = session.scalar(select(func.count()).where(SavedFilter.username == actor.username)) or 0
        if count >= MAX_PER_USER:
            raise InvalidInput(
                _("En fazla {n} süzgeç kaydedebilirsiniz; önce birini silin.", n=MAX_PER_USER),
                field_errors={"name": [_("Süzgeç sayısı sınırda.")]},
            )
        row = SavedFilter(username=actor.username, name=name, params=kept, created_at=clock.now())
        session.add(row)
    else:
        row.params = kept
    session.flush()
    return row


def delete(session: Session, actor: Actor, filter_id: int) -> None:
    """Delete one of the actor's own filters. Raises NotFound."""
    session.delete(get(session, actor, filter_id))
    session.flush()
