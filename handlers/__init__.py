"""Service-task handlers, listed explicitly; ``create_app`` registers ``ALL``."""

from handlers.notify import notify

ALL = [notify]
