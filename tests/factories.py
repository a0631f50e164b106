"""Test helpers that go through engine functions, as production code does."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from engine import db as dbmod
from engine import definitions, demo, instances, people, tasks
from engine.actors import Actor
from engine.incidents import recorded_transaction

DATA = Path(__file__).parent / "data"
PROCESSES = Path(__file__).parent.parent / "processes"
T = TypeVar("T")


def act(db: dbmod.Database, username: str | None, fn: Callable[[Any, Actor], T]) -> T:
    """Run one engine call as ``username`` (None: the system) in one recorded transaction."""
    with recorded_transaction(db) as session:
        actor = Actor.system() if username is None else people.actor_for(session, username)
        return fn(session, actor)


def read(db: dbmod.Database, fn: Callable[[Any], T]) -> T:
    with dbmod.read_session(db) as session:
        return fn(session)


def data_files(*names: str) -> list[tuple[str, bytes]]:
    return [(n, (DATA / n).read_bytes()) for n in names]


def deploy(db: dbmod.Database, *names: str) -> list[str]:
    files = data_files(*(names or ("havale_test.bpmn", "kayit_formu.form.json")))
    return [str(d) for d in act(db, None, lambda s, a: definitions.deploy(s, a, files)) if d.kind == "process"]


def deploy_flow(db: dbmod.Database, *folders: str) -> list[str]:
    """Deploy every BPMN, DMN and form file under ``processes/<folder>`` for each folder, in one deployment."""
    files = [f for folder in folders for f in demo.process_files(PROCESSES / folder)]
    assert files, f"no process files under {folders}"
    return [str(d) for d in act(db, None, lambda s, a: definitions.deploy(s, a, files)) if d.kind == "process"]


def start(db: dbmod.Database, key: str = "test_havale", username: str = "idari1", **kwargs: Any) -> int:
    return act(db, username, lambda s, a: instances.start(s, a, key, **kwargs).id)


def open_tasks(db: dbmod.Database, username: str) -> list[dict[str, Any]]:
    return act(db, username, lambda s, a: [tasks.as_dict(t) for t in tasks.inbox(s, a).items])


def only_task(db: dbmod.Database, username: str, bpmn_id: str) -> dict[str, Any]:
    found = [t for t in open_tasks(db, username) if t["bpmn_id"] == bpmn_id]
    assert len(found) == 1, f"expected one {bpmn_id} task for {username}, got {found}"
    return found[0]
