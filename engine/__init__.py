"""Kalem's workflow engine: persisted BPMN instances, human tasks, timers, audit trail.

Knows nothing of Flask or HTTP. Every use case is a plain function taking a SQLAlchemy
``Session`` and an ``Actor``; callers own the transaction (see ``engine.db.transaction``).
"""
