"""All tables, importable from one place: ``from engine.models import HumanTask``."""

from engine.models.accounts import LoginThrottle, SavedFilter, WebSession
from engine.models.base import Base
from engine.models.definition import DecisionDefinition, FormDefinitionVersion, ProcessDefinition
from engine.models.design import DesignDraft
from engine.models.handover import Handover
from engine.models.human_task import ACTIVE_TASK_STATES, HumanTask, HumanTaskCandidate, InboxEntry, TaskState
from engine.models.instance import Incident, InstanceStatus, ProcessInstance
from engine.models.people import ApiRateWindow, ApiToken, Group, Membership, Substitution, User
from engine.models.records import Attachment, AuditEvent, AuditHead, Comment, Notification, Sequence
from engine.models.scheduling import DeadlineWatch
from engine.models.waiting import MessageSubscription, Timer, TimerStatus

__all__ = [
    "ACTIVE_TASK_STATES",
    "ApiRateWindow",
    "ApiToken",
    "Attachment",
    "AuditEvent",
    "AuditHead",
    "Base",
    "Comment",
    "DeadlineWatch",
    "DecisionDefinition",
    "DesignDraft",
    "FormDefinitionVersion",
    "Group",
    "Handover",
    "HumanTask",
    "HumanTaskCandidate",
    "InboxEntry",
    "Incident",
    "InstanceStatus",
    "LoginThrottle",
    "Membership",
    "MessageSubscription",
    "Notification",
    "ProcessDefinition",
    "ProcessInstance",
    "SavedFilter",
    "Sequence",
    "Substitution",
    "TaskState",
    "Timer",
    "TimerStatus",
    "User",
    "WebSession",
]
