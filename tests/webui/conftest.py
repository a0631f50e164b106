"""Fixtures of the web UI tests (defined in web_client.py): ``app``, ``browser``, ``signed_in``."""

from web_client import app, browser, signed_in  # noqa: F401 - re-exported as fixtures
