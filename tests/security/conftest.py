"""Fixtures of the attack tests (defined in security_support.py): ``app``, ``sign_in``, ``restore_engine``."""

from security_support import app, restore_engine, sign_in  # noqa: F401 - re-exported as fixtures
