"""All tables, importable from one place: ``from engine.models import HumanTask``."""

from engine.models.base import Base
from engine.models.definition import DecisionDefinition, FormDefinitionVersion, ProcessDefinition
from engine.models.human_task import ACTIVE_TASK_STATES, HumanTask, HumanTaskCandidate, InboxEntry, TaskState
from engine.models.instance import Incident, InstanceStatus, ProcessInstance
from engine.models.people import Group, Membership, Substitution, User
from engine.models.records import Attachment, AuditEvent, AuditHead, Comment, Notification, Sequence
from engine.models.waiting import MessageSubscription, Timer, TimerStatus

__all__ = [
    "ACTIVE_TASK_STATES",
    "Attachment",
    "AuditEvent",
    "AuditHead",
    "Base",
    "Comment",
    "DecisionDefinition",
    "FormDefinitionVersion",
    "Group",
    "HumanTask",
    "HumanTaskCandidate",
    "InboxEntry",
    "Incident",
    "InstanceStatus",
    "Membership",
    "MessageSubscription",
    "Notification",
    "ProcessDefinition",
    "ProcessInstance",
    "Sequence",
    "Substitution",
    "TaskState",
    "Timer",
    "TimerStatus",
    "User",
]
