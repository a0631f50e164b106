"""The process designer's use cases: browse deployed versions, keep drafts, check a file with the
deploy-time checks without deploying it, deploy with a change note, compare versions, start a new
process from a template.

Only process designers (``surec_tasarimcisi``) and administrators may use them. Checking runs the
engine's own ``definitions.deploy`` inside a savepoint that is always rolled back, so "valid here"
means exactly "deployable now". Drafts are personal working copies: they are not audited, deploys are.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from lxml import etree
from sqlalchemy import func, select
from sqlalchemy.orm import Session

import forms
from engine import bpmn_xml, clock, definitions
from engine.actors import Actor
from engine.errors import Conflict, DeployError, InvalidInput, NotAllowed, NotFound, Problem
from engine.handlers import registry
from engine.i18n import _
from engine.instance_migration import DESIGNER_GROUPS, MOVABLE
from engine.models import FormDefinitionVersion, Group, ProcessDefinition, ProcessInstance
from engine.models.design import DesignDraft
from forms.definition import FORM_KEY
from forms.samples import sample_values

MAX_FILE_BYTES = 2 * 1024 * 1024
MAX_DRAFTS = 200
PROCESS_KEY = re.compile(r"[a-z][a-z0-9_]{2,59}")
FILE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,150}")
BPMN_SUFFIX, FORM_SUFFIX = ".bpmn", ".form.json"
# The savepoint of a check may append to the audit chain; its cached head must not outlive the rollback.
AUDIT_HEAD_CACHE = "kalem_audit_head"


def may_design(actor: Actor) -> bool:
    """Whether the actor is a process designer or an administrator."""
    return actor.is_admin or bool(actor.groups & DESIGNER_GROUPS)


def require_designer(actor: Actor) -> None:
    """Raises NotAllowed unless the actor is a process designer or an administrator."""
    if not may_design(actor):
        raise NotAllowed(_("Süreç tasarımı yalnız süreç tasarımcılarına ve sistem yöneticilerine açıktır."))


# --- what is deployed -------------------------------------------------------------------------------


@dataclass
class VersionInfo:
    version: int
    name: str
    file_name: str
    deployed_by: str
    deployed_at: datetime
    change_note: str | None
    running: int = 0


@dataclass
class ProcessVersions:
    key: str
    name: str
    versions: list[VersionInfo] = field(default_factory=list)  # newest first

    @property
    def latest(self) -> VersionInfo:
        return self.versions[0]


def list_processes(session: Session, actor: Actor) -> list[ProcessVersions]:
    """Every deployed process with its versions (newest first) and their running cases."""
    require_designer(actor)
    running = dict(
        session.execute(
            select(ProcessInstance.definition_id, func.count(ProcessInstance.id))
            .where(ProcessInstance.status.in_(MOVABLE))
            .group_by(ProcessInstance.definition_id)
        ).all()
    )
    rows = session.execute(
        select(
            ProcessDefinition.id,
            ProcessDefinition.key,
            ProcessDefinition.version,
            ProcessDefinition.name,
            ProcessDefinition.file_name,
            ProcessDefinition.deployed_by,
            ProcessDefinition.deployed_at,
            ProcessDefinition.change_note,
        ).order_by(ProcessDefinition.key, ProcessDefinition.version.desc())
    ).all()
    result: dict[str, ProcessVersions] = {}
    for def_id, key, version, name, file_name, by, at, note in rows:
        entry = result.setdefault(key, ProcessVersions(key, name))
        entry.versions.append(VersionInfo(version, name, file_name, by, at, note, int(running.get(def_id, 0))))
    return sorted(result.values(), key=lambda p: p.name.casefold())


def get_version(session: Session, actor: Actor, key: str, version: int) -> ProcessDefinition:
    """One deployed version; raises NotFound."""
    require_designer(actor)
    return find_version(session, key, version)


def find_version(session: Session, key: str, version: int) -> ProcessDefinition:
    """One deployed version, whoever asks (callers check permissions); raises NotFound."""
    definition = session.scalar(
        select(ProcessDefinition).where(ProcessDefinition.key == key, ProcessDefinition.version == version)
    )
    if definition is None:
        raise NotFound(_("Süreç sürümü bulunamadı: {key} v{version}.", key=key, version=version))
    return definition


def definition_source(definition: ProcessDefinition) -> str:
    """The BPMN file of a deployed version, as deployed."""
    for source in definition.sources:
        if source["name"] == definition.file_name:
            return str(source["content"])
    raise NotFound(_("Süreç diyagramı bulunamadı."))


def version_source(session: Session, actor: Actor, key: str, version: int) -> tuple[str, bytes]:
    """File name and BPMN XML of a version, with a generated diagram when it was deployed without one."""
    definition = get_version(session, actor, key, version)
    return definition.file_name, bpmn_xml.ensure_diagram(definition_source(definition))


# --- pickers ----------------------------------------------------------------------------------------


def catalog(session: Session, actor: Actor) -> dict[str, Any]:
    """What the properties panel offers: groups (lanes, candidate groups), forms, handlers."""
    require_designer(actor)
    groups = [
        {"code": code, "name": name, "kind": kind}
        for code, name, kind in session.execute(select(Group.code, Group.name, Group.kind).order_by(Group.code))
    ]
    latest = (
        select(FormDefinitionVersion.key, func.max(FormDefinitionVersion.version).label("version"))
        .group_by(FormDefinitionVersion.key)
        .subquery()
    )
    deployed = [
        {"key": key, "title": title, "version": version, "draft": False}
        for key, title, version in session.execute(
            select(FormDefinitionVersion.key, FormDefinitionVersion.title, FormDefinitionVersion.version)
            .join(
                latest,
                (latest.c.key == FormDefinitionVersion.key) & (latest.c.version == FormDefinitionVersion.version),
            )
            .order_by(FormDefinitionVersion.key)
        )
    ]
    known = {f["key"] for f in deployed}
    drafts = [
        {"key": d.key, "title": d.name, "version": None, "draft": True}
        for d in list_drafts(session, actor, kind="form")
        if d.key and d.key not in known
    ]
    python = [{"key": k, "title": k, "version": None, "draft": False} for k in sorted(forms.python_forms.keys())]
    return {
        "groups": groups,
        "forms": deployed + drafts + [f for f in python if f["key"] not in known],
        "handlers": sorted(registry.handlers),
    }


# --- checks and deploys -----------------------------------------------------------------------------


def _check_file(name: str, content: bytes) -> None:
    if not FILE_NAME.fullmatch(name) or not name.endswith((BPMN_SUFFIX, FORM_SUFFIX)):
        raise InvalidInput(
            _("Dosya adı geçersiz: harf ya da rakamla başlamalı ve .bpmn ya da .form.json ile bitmeli."),
            field_errors={"name": [str(_("Geçersiz dosya adı."))]},
        )
    if len(content) > MAX_FILE_BYTES:
        raise InvalidInput(_("Dosya çok büyük (en çok {mb} MB).", mb=MAX_FILE_BYTES // (1024 * 1024)))
    try:
        content.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidInput(_("Dosya UTF-8 metin değil.")) from None


def validate(session: Session, actor: Actor, files: Sequence[tuple[str, bytes]]) -> list[Problem]:
    """Every problem the deploy-time checks find in ``files``; nothing is stored (an empty list: deployable)."""
    require_designer(actor)
    for name, content in files:
        _check_file(name, content)
    savepoint = session.begin_nested()
    try:
        definitions.deploy(session, actor, files)
    except DeployError as exc:
        return list(exc.problems)
    finally:
        savepoint.rollback()
        session.info.pop(AUDIT_HEAD_CACHE, None)
    return []


def files_for(session: Session, actor: Actor, name: str, content: bytes) -> list[tuple[str, bytes]]:
    """A BPMN file with the actor's drafts of the new forms it names (forms not deployed yet go with
    their process); a form file alone."""
    files = [(name, content)]
    if not name.endswith(BPMN_SUFFIX):
        return files
    try:
        wanted = bpmn_xml.form_keys(content)
    except etree.XMLSyntaxError:
        return files
    deployed = set(
        session.scalars(select(FormDefinitionVersion.key).where(FormDefinitionVersion.key.in_(wanted)).distinct())
    )
    missing = wanted - deployed
    if missing:
        drafts = session.scalars(
            select(DesignDraft).where(
                DesignDraft.owner == actor.username, DesignDraft.kind == "form", DesignDraft.key.in_(missing)
            )
        )
        files += [(d.name, d.content.encode("utf-8")) for d in drafts]
    return files


def check(session: Session, actor: Actor, name: str, content: bytes) -> list[Problem]:
    """The deploy-time problems of a file being edited (with the new forms it needs)."""
    require_designer(actor)
    _check_file(name, content)
    return validate(session, actor, files_for(session, actor, name, content))


def deploy(
    session: Session,
    actor: Actor,
    name: str,
    content: bytes,
    *,
    change_note: str,
    base_version: int | None = None,
    draft_id: int | None = None,
) -> list[definitions.Deployed]:
    """Deploy a file edited in the designer (with the new forms it needs) as a new version.

    Raises InvalidInput without a change note (for a process), Conflict when someone deployed a newer version since
    ``base_version`` was opened, DeployError listing every problem. The draft used is deleted."""
    require_designer(actor)
    _check_file(name, content)
    note = (change_note or "").strip()
    if not note and name.endswith(BPMN_SUFFIX):
        raise InvalidInput(
            _("Değişiklik notu yazın: bu sürümde neyin neden değiştiğini."),
            field_errors={"change_note": [str(_("Bu alan zorunludur."))]},
        )
    if base_version is not None and name.endswith(BPMN_SUFFIX):
        for key in _process_ids(content):
            latest = definitions.find_latest(session, key)
            if latest is not None and latest.version > base_version:
                raise Conflict(
                    _(
                        "'{key}' siz düzenlerken v{latest} olarak yeniden dağıtılmış; "
                        "değişikliklerinizi taslak olarak kaydedip v{latest} üzerinde yeniden yapın.",
                        key=key,
                        latest=latest.version,
                    )
                )
    files = files_for(session, actor, name, content)
    deployed = definitions.deploy(session, actor, files, change_note=note[:2000] or None)
    used = {n for n, _content in files}
    for draft in session.scalars(select(DesignDraft).where(DesignDraft.owner == actor.username)):
        if draft.id == draft_id or (draft.kind == "form" and draft.name in used and draft.name != name):
            session.delete(draft)
    session.flush()
    return deployed


def _process_ids(content: bytes) -> list[str]:
    try:
        return bpmn_xml.process_ids(content)
    except etree.XMLSyntaxError:
        return []


# --- drafts -----------------------------------------------------------------------------------------


def _draft_key(name: str, content: str) -> str | None:
    """The process id (first executable) or form key of a draft's content, when it can be read."""
    try:
        if name.endswith(FORM_SUFFIX):
            key = json.loads(content).get("key")
            return key[:200] if isinstance(key, str) else None
        ids = bpmn_xml.process_ids(content)
    except (ValueError, AttributeError, etree.XMLSyntaxError):
        return None
    return ids[0][:200] if ids else None


def save_draft(
    session: Session,
    actor: Actor,
    name: str,
    content: str,
    *,
    base_version: int | None = None,
    draft_id: int | None = None,
) -> DesignDraft:
    """Create or update the actor's draft ``name`` (or ``draft_id``, which may be renamed).

    Raises InvalidInput for a bad name or an oversized file, NotFound for another user's draft."""
    require_designer(actor)
    _check_file(name, content.encode("utf-8"))
    now = clock.now()
    if draft_id is not None:
        draft = get_draft(session, actor, draft_id)
    else:
        draft = session.scalar(select(DesignDraft).where(DesignDraft.owner == actor.username, DesignDraft.name == name))
    if draft is None:
        draft = DesignDraft(owner=actor.username, created_at=now, base_version=base_version)
        session.add(draft)
    elif draft.name != name:
        clash = session.scalar(
            select(DesignDraft.id).where(DesignDraft.owner == actor.username, DesignDraft.name == name)
        )
        if clash is not None:
            raise InvalidInput(_("'{name}' adlı bir taslağınız zaten var.", name=name))
    draft.name = name
    draft.kind = "form" if name.endswith(FORM_SUFFIX) else "bpmn"
    draft.content = content
    draft.key = _draft_key(name, content)
    if base_version is not None:
        draft.base_version = base_version
    draft.updated_at = now
    session.flush()
    return draft


def upload(session: Session, actor: Actor, file_name: str, content: bytes) -> DesignDraft:
    """A ``.bpmn`` or ``.form.json`` file from the designer's computer, kept as their draft of that
    name, based on the latest deployed version of its process. Raises InvalidInput."""
    require_designer(actor)
    _check_file(file_name, content)
    text = content.decode("utf-8")
    base = None
    key = _draft_key(file_name, text)
    if key and file_name.endswith(BPMN_SUFFIX):
        latest = definitions.find_latest(session, key)
        base = latest.version if latest is not None else None
    return save_draft(session, actor, file_name, text, base_version=base)


def list_drafts(session: Session, actor: Actor, *, kind: str | None = None) -> list[DesignDraft]:
    """The actor's drafts, most recently saved first (content not loaded)."""
    require_designer(actor)
    query = select(DesignDraft).where(DesignDraft.owner == actor.username)
    if kind is not None:
        query = query.where(DesignDraft.kind == kind)
    return list(session.scalars(query.order_by(DesignDraft.updated_at.desc(), DesignDraft.id.desc()).limit(MAX_DRAFTS)))


def get_draft(session: Session, actor: Actor, draft_id: int) -> DesignDraft:
    """One of the actor's own drafts; raises NotFound for any other."""
    require_designer(actor)
    draft = session.get(DesignDraft, draft_id)
    if draft is None or draft.owner != actor.username:
        raise NotFound(_("Taslak bulunamadı."))
    return draft


def delete_draft(session: Session, actor: Actor, draft_id: int) -> None:
    """Delete one of the actor's own drafts; raises NotFound for any other."""
    session.delete(get_draft(session, actor, draft_id))
    session.flush()


# --- a new process ----------------------------------------------------------------------------------


def new_process(session: Session, actor: Actor, key: str, name: str, group: str) -> DesignDraft:
    """Drafts of a new process from the template (one lane, one user task with a starter form, its
    diagram) and of that form. Raises InvalidInput naming each bad field."""
    require_designer(actor)
    key, name, group = key.strip(), " ".join(name.split()), group.strip()
    errors: dict[str, list[str]] = {}
    if not PROCESS_KEY.fullmatch(key):
        errors["key"] = [str(_("Küçük İngilizce harf, rakam ve '_' kullanın; harfle başlayın (3-60 karakter)."))]
    elif definitions.find_latest(session, key) is not None:
        errors["key"] = [str(_("'{key}' anahtarlı bir süreç zaten var.", key=key))]
    if not name or len(name) > 200:
        errors["name"] = [str(_("Sürecin adını yazın (en çok 200 karakter)."))]
    if session.scalar(select(Group.id).where(Group.code == group)) is None:
        errors["group"] = [str(_("Bilinen bir grup seçin."))]
    if errors:
        raise InvalidInput(_("Yeni süreç oluşturulamadı."), field_errors=errors)
    form_key = f"{key}_adim1"
    if session.scalar(select(FormDefinitionVersion.id).where(FormDefinitionVersion.key == form_key).limit(1)) is None:
        save_draft(session, actor, form_key + FORM_SUFFIX, bpmn_xml.new_form(form_key, name))
    return save_draft(session, actor, key + BPMN_SUFFIX, bpmn_xml.new_process(key, name, group, form_key))


# --- versions compared ------------------------------------------------------------------------------


def diff_versions(session: Session, actor: Actor, key: str, old: int, new: int) -> list[bpmn_xml.ElementChange]:
    """Elements added, removed and changed from version ``old`` to ``new``. Raises NotFound."""
    before = get_version(session, actor, key, old)
    after = get_version(session, actor, key, new)
    return bpmn_xml.diff(definition_source(before), definition_source(after))


# --- forms ------------------------------------------------------------------------------------------


@dataclass
class FormVersions:
    key: str
    title: str
    versions: list[int]
    file_name: str
    deployed_at: datetime


def list_forms(session: Session, actor: Actor) -> list[FormVersions]:
    """Every deployed form with its versions (newest first)."""
    require_designer(actor)
    rows = session.execute(
        select(
            FormDefinitionVersion.key,
            FormDefinitionVersion.title,
            FormDefinitionVersion.version,
            FormDefinitionVersion.file_name,
            FormDefinitionVersion.deployed_at,
        ).order_by(FormDefinitionVersion.key, FormDefinitionVersion.version.desc())
    ).all()
    result: dict[str, FormVersions] = {}
    for key, title, version, file_name, at in rows:
        entry = result.setdefault(key, FormVersions(key, title, [], file_name, at))
        entry.versions.append(version)
    return list(result.values())


def form_source(session: Session, actor: Actor, key: str, version: int) -> tuple[str, str]:
    """File name and JSON of a deployed form version. Raises NotFound."""
    require_designer(actor)
    row = session.scalar(
        select(FormDefinitionVersion).where(FormDefinitionVersion.key == key, FormDefinitionVersion.version == version)
    )
    if row is None:
        raise NotFound(_("Form sürümü bulunamadı: {key} v{version}.", key=key, version=version))
    return row.file_name, row.source


def new_form(session: Session, actor: Actor, key: str, title: str) -> DesignDraft:
    """A draft of a new form (one text field to start from). Raises InvalidInput naming each bad field."""
    require_designer(actor)
    key, title = key.strip(), " ".join(title.split())
    errors: dict[str, list[str]] = {}
    if not FORM_KEY.fullmatch(key):
        errors["key"] = [str(_("İngilizce harf, rakam, '_', '.', '-' kullanın; harf ya da rakamla başlayın."))]
    elif session.scalar(select(FormDefinitionVersion.id).where(FormDefinitionVersion.key == key).limit(1)):
        errors["key"] = [str(_("'{key}' anahtarlı bir form zaten var; onu açıp düzenleyin.", key=key))]
    if not title or len(title) > 200:
        errors["title"] = [str(_("Formun başlığını yazın (en çok 200 karakter)."))]
    if errors:
        raise InvalidInput(_("Yeni form oluşturulamadı."), field_errors=errors)
    return save_draft(session, actor, key + FORM_SUFFIX, bpmn_xml.new_form(key, title))


@dataclass
class FormPreview:
    definition: Any | None
    values: dict[str, Any]
    problems: list[dict[str, Any]]


def preview_form(actor: Actor, content: str) -> FormPreview:
    """A form definition parsed for the live preview, with sample values, or the problem found."""
    require_designer(actor)
    if len(content.encode("utf-8")) > MAX_FILE_BYTES:
        return FormPreview(None, {}, [{"path": None, "field": None, "message": str(_("Form çok büyük."))}])
    try:
        definition = forms.parse_definition(content, source="önizleme")
    except forms.FormDefinitionError as exc:
        return FormPreview(None, {}, [{"path": exc.path, "field": exc.field, "message": exc.message}])
    return FormPreview(definition, sample_values(definition, now=clock.now()), [])


def problems_as_dicts(problems: Iterable[Problem]) -> list[dict[str, Any]]:
    """Problems as JSON-ready dicts (file, element_id, line, message in the current language)."""
    return [p.as_dict() for p in problems]
