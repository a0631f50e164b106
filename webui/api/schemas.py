"""marshmallow schemas of the REST API: request bodies are loaded (validated) with them, responses
dumped, and the OpenAPI document is generated from the same classes."""

from __future__ import annotations

from marshmallow import Schema, fields, validate


class ErrorSchema(Schema):
    code = fields.String(required=True, metadata={"description": "Kararlı hata kodu (ör. not_found)."})
    message = fields.String(required=True)
    fields_ = fields.Dict(
        data_key="fields", keys=fields.String(), values=fields.List(fields.String()), load_default=None
    )


class ErrorEnvelope(Schema):
    error = fields.Nested(ErrorSchema, required=True)


class PageMeta(Schema):
    total = fields.Integer(required=True)
    limit = fields.Integer(required=True)
    offset = fields.Integer(required=True)


class DefinitionSchema(Schema):
    key = fields.String(required=True)
    name = fields.String(allow_none=True)
    latest_version = fields.Integer(required=True)
    versions = fields.List(fields.Integer(), required=True)


class DefinitionList(Schema):
    items = fields.List(fields.Nested(DefinitionSchema), required=True)


class TaskSchema(Schema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)
    bpmn_id = fields.String(required=True)
    process_key = fields.String(required=True)
    instance_id = fields.Integer(required=True)
    business_key = fields.String(allow_none=True)
    state = fields.String(required=True)
    assignee = fields.String(allow_none=True)
    candidate_groups = fields.List(fields.String(), required=True)
    due_at = fields.String(allow_none=True)
    priority = fields.Integer(required=True)
    form_key = fields.String(allow_none=True)
    lane = fields.String(allow_none=True)
    created_at = fields.String(required=True)
    completed_by = fields.String(allow_none=True)
    on_behalf_of = fields.String(allow_none=True)


class TaskDetailSchema(TaskSchema):
    form = fields.Dict(allow_none=True, metadata={"description": "Form tanımı (alanlar, seçenekler, sınırlar)."})


class TaskList(Schema):
    items = fields.List(fields.Nested(TaskSchema), required=True)
    page = fields.Nested(PageMeta, required=True)


class InstanceSummarySchema(Schema):
    id = fields.Integer(required=True)
    process_key = fields.String(required=True)
    business_key = fields.String(allow_none=True)
    subject = fields.String(allow_none=True)
    status = fields.String(required=True)
    started_by = fields.String(required=True)
    started_at = fields.String(required=True)
    ended_at = fields.String(allow_none=True)


class InstanceList(Schema):
    items = fields.List(fields.Nested(InstanceSummarySchema), required=True)
    page = fields.Nested(PageMeta, required=True)


class InstanceDetailSchema(InstanceSummarySchema):
    definition_id = fields.Integer(required=True)
    open_tasks = fields.List(fields.Dict(), required=True)
    waiting = fields.List(fields.Dict(), required=True)
    incidents = fields.List(fields.Dict(), required=True)
    data = fields.Dict(required=True)


class StartRequest(Schema):
    process_key = fields.String(required=True, validate=validate.Length(min=1, max=200))
    business_key = fields.String(load_default=None, validate=validate.Length(max=200))
    subject = fields.String(load_default=None, validate=validate.Length(max=500))
    data = fields.Dict(load_default=dict)


class TerminateRequest(Schema):
    reason = fields.String(load_default=None, validate=validate.Length(max=2000))


class CompleteRequest(Schema):
    data = fields.Dict(load_default=dict)


class AssignRequest(Schema):
    username = fields.String(required=True, validate=validate.Length(min=1, max=150))


class MessageRequest(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    business_key = fields.String(required=True, validate=validate.Length(min=1, max=200))
    data = fields.Raw(load_default=None)


class MessageResult(Schema):
    instance_id = fields.Integer(required=True)
    status = fields.String(required=True)


class ImportRow(Schema):
    line = fields.Integer(required=True)
    reference = fields.String(allow_none=True)
    status = fields.String(required=True, metadata={"description": "imported | ready | duplicate | rejected"})
    message = fields.String(required=True)
    instance_id = fields.Integer(allow_none=True)


class ImportReport(Schema):
    preset = fields.String(required=True)
    preview = fields.Boolean(required=True)
    summary = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True)
    rows = fields.List(fields.Nested(ImportRow), required=True)


class CommentSchema(Schema):
    id = fields.Integer(required=True)
    instance_id = fields.Integer(required=True)
    task_id = fields.Integer(allow_none=True)
    author = fields.String(required=True)
    body = fields.String(required=True)
    created_at = fields.String(required=True)


class CommentList(Schema):
    items = fields.List(fields.Nested(CommentSchema), required=True)


class CommentRequest(Schema):
    body = fields.String(required=True, validate=validate.Length(min=1, max=5000))
    task_id = fields.Integer(load_default=None)


class AttachmentSchema(Schema):
    id = fields.Integer(required=True)
    instance_id = fields.Integer(allow_none=True)
    task_id = fields.Integer(allow_none=True)
    filename = fields.String(required=True)
    content_type = fields.String(required=True)
    size = fields.Integer(required=True)
    sha256 = fields.String(required=True)
    uploaded_by = fields.String(required=True)
    uploaded_at = fields.String(required=True)


class AttachmentList(Schema):
    items = fields.List(fields.Nested(AttachmentSchema), required=True)


class AuditRowSchema(Schema):
    seq = fields.Integer(required=True)
    at = fields.String(required=True)
    actor = fields.String(required=True)
    on_behalf_of = fields.String(allow_none=True)
    action = fields.String(required=True)
    instance_id = fields.Integer(allow_none=True)
    process_key = fields.String(allow_none=True)
    business_key = fields.String(allow_none=True)
    task_id = fields.Integer(allow_none=True)
    details = fields.Dict(required=True)


class AuditPage(Schema):
    items = fields.List(fields.Nested(AuditRowSchema), required=True)
    next_before = fields.Integer(allow_none=True, metadata={"description": "Sonraki (daha eski) sayfa için before."})
