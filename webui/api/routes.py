"""The API's views: one engine call each (see ``webui.api.base`` for the shared plumbing)."""

from __future__ import annotations

from typing import Any

from flask import Response, request, send_file

from engine import attachments, audit_query, comments, definitions, imports, instances, messages, starting, tasks
from webui.api import openapi, schemas
from webui.api.base import ApiError, api, body, documented, dump, identity, query_int, reading, writing

MAX_IMPORT_BYTES = 10 * 1024 * 1024
PAGE_QUERY = {"limit": "Sayfa boyu (1-200, varsayılan 50).", "offset": "Atlanacak kayıt sayısı."}


def _page(total: int, limit: int, offset: int) -> dict[str, int]:
    return {"total": total, "limit": limit, "offset": offset}


@api.get("/definitions")
@documented("Süreç tanımları ve sürümleri", "definitions:read", response=schemas.DefinitionList)
def list_definitions() -> Response:
    identity("definitions:read")
    with reading() as session:
        rows = definitions.list_definitions(session)
    return dump(schemas.DefinitionList, {"items": rows})


@api.get("/instances")
@documented(
    "Görebildiğiniz süreç örnekleri (yeniden eskiye)",
    "instances:read",
    response=schemas.InstanceList,
    query={**PAGE_QUERY, "status": "Durum.", "process_key": "Süreç anahtarı.", "business_key": "İş anahtarı."},
)
def list_instances() -> Response:
    who = identity("instances:read")
    limit, offset = query_int("limit", 50, low=1, high=200), query_int("offset", 0, high=10**9)
    with reading() as session:
        rows, total = instances.list_visible(
            session,
            who.actor,
            status=request.args.get("status"),
            process_key=request.args.get("process_key"),
            business_key=request.args.get("business_key"),
            limit=limit,
            offset=offset,
        )
        items = [_instance_summary(i) for i in rows]
    return dump(schemas.InstanceList, {"items": items, "page": _page(total, limit, offset)})


def _instance_summary(instance: Any) -> dict[str, Any]:
    return {
        "id": instance.id,
        "process_key": instance.process_key,
        "business_key": instance.business_key,
        "subject": instance.subject,
        "status": str(instance.status),
        "started_by": instance.started_by,
        "started_at": instance.started_at.isoformat(),
        "ended_at": instance.ended_at.isoformat() if instance.ended_at else None,
    }


@api.post("/instances")
@documented(
    "Süreç başlat", "instances:write", body=schemas.StartRequest, response=schemas.InstanceDetailSchema, status=201
)
def start_instance() -> Response:
    who = identity("instances:write")
    args = body(schemas.StartRequest)
    with writing() as session:
        instance = starting.start(
            session,
            who.actor,
            args["process_key"],
            business_key=args["business_key"],
            data=args["data"],
            subject=args["subject"],
        ).instance
        detail = instances.show(session, who.actor, instance.id).as_dict()
    return dump(schemas.InstanceDetailSchema, detail, 201)


@api.get("/instances/<int:instance_id>")
@documented(
    "Süreç örneği: durum, açık görevler, beklenenler, veri", "instances:read", response=schemas.InstanceDetailSchema
)
def show_instance(instance_id: int) -> Response:
    who = identity("instances:read")
    with reading() as session:
        detail = instances.show(session, who.actor, instance_id).as_dict()
    return dump(schemas.InstanceDetailSchema, detail)


def _instance_action(name: str, summary: str, fn: Any, with_reason: bool = False) -> None:
    def view(instance_id: int) -> Response:
        who = identity("instances:write")
        args = body(schemas.TerminateRequest) if with_reason else {}
        with writing() as session:
            if with_reason:
                fn(session, who.actor, instance_id, args["reason"])
            else:
                fn(session, who.actor, instance_id)
            detail = instances.show(session, who.actor, instance_id).as_dict()
        return dump(schemas.InstanceDetailSchema, detail)

    view.__name__ = f"{name}_instance"
    doc = documented(
        summary,
        "instances:write",
        response=schemas.InstanceDetailSchema,
        body=schemas.TerminateRequest if with_reason else None,
    )
    api.post(f"/instances/<int:instance_id>/{name}")(doc(view))


_instance_action("suspend", "Süreç örneğini askıya al", instances.suspend)
_instance_action("resume", "Askıdaki süreç örneğini sürdür", instances.resume)
_instance_action("terminate", "Süreç örneğini sonlandır", instances.terminate, with_reason=True)


@api.get("/tasks")
@documented(
    "Görebildiğiniz açık görevler (süre sonuna, önceliğe göre)",
    "tasks:read",
    response=schemas.TaskList,
    query={**PAGE_QUERY, "process_key": "Yalnız bu sürecin görevleri."},
)
def list_tasks() -> Response:
    who = identity("tasks:read")
    limit, offset = query_int("limit", 50, low=1, high=200), query_int("offset", 0, high=10**9)
    with reading() as session:
        page = tasks.inbox(session, who.actor, limit=limit, offset=offset, process_key=request.args.get("process_key"))
        items = [tasks.as_dict(t) for t in page.items]
    return dump(schemas.TaskList, {"items": items, "page": _page(page.total, limit, offset)})


@api.get("/tasks/<int:task_id>")
@documented("Görev ve formu", "tasks:read", response=schemas.TaskDetailSchema)
def show_task(task_id: int) -> Response:
    who = identity("tasks:read")
    with reading() as session:
        task = tasks.show(session, who.actor, task_id)
        form = definitions.form_for_task(session, task)
        detail = {**tasks.as_dict(task), "form": definitions.form_json(form) if form is not None else None}
    return dump(schemas.TaskDetailSchema, detail)


def _task_action(name: str, summary: str, fn: Any) -> None:
    def view(task_id: int) -> Response:
        who = identity("tasks:write")
        with writing() as session:
            task = fn(session, who.actor, task_id)
            result = tasks.as_dict(task)
        return dump(schemas.TaskSchema, result)

    view.__name__ = f"{name}_task"
    api.post(f"/tasks/<int:task_id>/{name}")(documented(summary, "tasks:write", response=schemas.TaskSchema)(view))


_task_action("claim", "Görevi üstlen", tasks.claim)
_task_action("unclaim", "Görevi bırak", tasks.unclaim)


@api.post("/tasks/<int:task_id>/assign")
@documented(
    "Görevi bir kullanıcıya ata (yönetici)", "tasks:write", body=schemas.AssignRequest, response=schemas.TaskSchema
)
def assign_task(task_id: int) -> Response:
    who = identity("tasks:write")
    args = body(schemas.AssignRequest)
    with writing() as session:
        result = tasks.as_dict(tasks.assign(session, who.actor, task_id, args["username"]))
    return dump(schemas.TaskSchema, result)


@api.post("/tasks/<int:task_id>/complete")
@documented("Görevi form verisiyle tamamla", "tasks:write", body=schemas.CompleteRequest, response=schemas.TaskSchema)
def complete_task(task_id: int) -> Response:
    who = identity("tasks:write")
    args = body(schemas.CompleteRequest)
    with writing() as session:
        result = tasks.as_dict(tasks.complete(session, who.actor, task_id, args["data"]))
    return dump(schemas.TaskSchema, result)


@api.post("/messages")
@documented(
    "İş anahtarıyla bekleyen sürece mesaj ilet",
    "messages:write",
    body=schemas.MessageRequest,
    response=schemas.MessageResult,
)
def correlate_message() -> Response:
    who = identity("messages:write")
    args = body(schemas.MessageRequest)
    with writing() as session:
        instance = messages.correlate(session, who.actor, args["name"], args["business_key"], args["data"])
        result = {"instance_id": instance.id, "status": str(instance.status)}
    return dump(schemas.MessageResult, result)


@api.get("/instances/<int:instance_id>/comments")
@documented("Süreç örneğinin yorumları", "instances:read", response=schemas.CommentList)
def list_comments(instance_id: int) -> Response:
    who = identity("instances:read")
    with reading() as session:
        items = [_comment(c) for c in comments.list_for_instance(session, who.actor, instance_id)]
    return dump(schemas.CommentList, {"items": items})


@api.post("/instances/<int:instance_id>/comments")
@documented(
    "Süreç örneğine yorum ekle",
    "comments:write",
    body=schemas.CommentRequest,
    response=schemas.CommentSchema,
    status=201,
)
def add_comment(instance_id: int) -> Response:
    who = identity("comments:write")
    args = body(schemas.CommentRequest)
    with writing() as session:
        comment = _comment(comments.add(session, who.actor, instance_id, args["body"], task_id=args["task_id"]))
    return dump(schemas.CommentSchema, comment, 201)


def _comment(comment: Any) -> dict[str, Any]:
    return {
        "id": comment.id,
        "instance_id": comment.instance_id,
        "task_id": comment.task_id,
        "author": comment.author,
        "body": comment.body,
        "created_at": comment.created_at.isoformat(),
    }


@api.get("/instances/<int:instance_id>/attachments")
@documented("Süreç örneğinin ekleri", "instances:read", response=schemas.AttachmentList)
def list_attachments(instance_id: int) -> Response:
    who = identity("instances:read")
    with reading() as session:
        items = [_attachment(a) for a in attachments.list_for_instance(session, who.actor, instance_id)]
    return dump(schemas.AttachmentList, {"items": items})


@api.post("/instances/<int:instance_id>/attachments")
@documented(
    "Süreç örneğine dosya ekle (multipart 'file')", "comments:write", response=schemas.AttachmentSchema, status=201
)
def upload_attachment(instance_id: int) -> Response:
    who = identity("comments:write")
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        raise ApiError(422, "invalid_input", "Dosya gerekli.", {"file": ["Bir dosya yükleyin."]})
    content = upload.read(attachments.MAX_BYTES + 1)
    with writing() as session:
        row = _attachment(attachments.upload(session, who.actor, instance_id, upload.filename, content))
    return dump(schemas.AttachmentSchema, row, 201)


@api.get("/attachments/<int:attachment_id>")
@documented("Ek dosyasını indir", "instances:read")
def download_attachment(attachment_id: int) -> Response:
    who = identity("instances:read")
    with writing() as session:
        row, path = attachments.open_for_download(session, who.actor, attachment_id)
        name, content_type = row.filename, row.content_type
    return send_file(path, mimetype=content_type, as_attachment=True, download_name=name)


def _attachment(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "instance_id": row.instance_id,
        "task_id": row.task_id,
        "filename": row.filename,
        "content_type": row.content_type,
        "size": row.size,
        "sha256": row.sha256,
        "uploaded_by": row.uploaded_by,
        "uploaded_at": row.uploaded_at.isoformat(),
    }


@api.get("/audit")
@documented(
    "Denetim kayıtları (yeniden eskiye; kişisel veriler yetkiye göre maskeli)",
    "audit:read",
    response=schemas.AuditPage,
    query={
        "instance": "Süreç örneği numarası.",
        "business_key": "İş anahtarı.",
        "person": "İşlemi yapan ya da adına yapılan kullanıcı.",
        "action": "İşlem (ör. task.completed) ya da ailesi (task.).",
        "date_from": "Başlangıç günü (YYYY-AA-GG).",
        "date_to": "Bitiş günü (YYYY-AA-GG).",
        "before": "Bu sıra numarasından eski kayıtlar.",
        "limit": "Sayfa boyu (1-200).",
    },
)
def audit_events() -> Response:
    who = identity("audit:read")
    limit = query_int("limit", 50, low=1, high=200)
    before = query_int("before", 0, high=2**62) or None
    with reading() as session:
        page = audit_query.search(
            session, who.actor, audit_query.Filter.parse(request.args), before_seq=before, limit=limit
        )
        items = [_audit_row(r) for r in page.rows]
    return dump(schemas.AuditPage, {"items": items, "next_before": page.next_before})


def _audit_row(row: Any) -> dict[str, Any]:
    return {
        "seq": row.seq,
        "at": row.at.isoformat(),
        "actor": row.actor,
        "on_behalf_of": row.on_behalf_of,
        "action": row.action,
        "instance_id": row.instance_id,
        "process_key": row.process_key,
        "business_key": row.business_key,
        "task_id": row.task_id,
        "details": row.details,
    }


@api.post("/imports/<kind>")
@documented(
    "CİMER/HİM dışa aktarımını içe aktar (multipart 'file': .csv ya da .xlsx)",
    "import:write",
    response=schemas.ImportReport,
    query={"preview": "true: yalnız denetle, kayıt oluşturma."},
)
def import_items(kind: str) -> Response:
    who = identity("import:write")
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        raise ApiError(422, "invalid_input", "Dosya gerekli.", {"file": ["Bir .csv ya da .xlsx dosyası yükleyin."]})
    content = upload.read(MAX_IMPORT_BYTES + 1)
    if len(content) > MAX_IMPORT_BYTES:
        raise ApiError(413, "too_large", "Dosya çok büyük (en fazla 10 MB).")
    preview = request.args.get("preview", "").lower() in ("1", "true", "evet")
    with writing() as session:
        rows = imports.read_rows(upload.filename, content)
        report = imports.run(session, who.actor, kind, rows, preview=preview).as_dict()
    return dump(schemas.ImportReport, report)


@api.get("/openapi.json")
def openapi_document() -> Response:
    return Response(openapi.document_json(), mimetype="application/json")


@api.get("/docs")
def openapi_docs() -> str:
    return openapi.docs_page()
