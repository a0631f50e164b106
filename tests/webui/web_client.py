"""Helpers for web UI tests: an app on the ``db`` fixture, and a client that signs in and posts forms
with their CSRF token, as a browser does. Import the fixtures into a test module to use them."""

from __future__ import annotations

import re
from typing import Any

import pytest
from factories import DATA, act

from engine import db as dbmod
from engine import definitions
from engine.config import Settings
from webui import create_app

WEB_DATA = DATA / "web"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def deploy_web(db: dbmod.Database) -> None:
    """Deploy the web test process (with a diagram) and its two forms."""
    files = [(p.name, p.read_bytes()) for p in sorted(WEB_DATA.glob("web_*"))]
    act(db, None, lambda s, a: definitions.deploy(s, a, files))


class Browser:
    """A Flask test client that keeps its cookies and sends each form's CSRF token."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def token(self, path: str = "/login") -> str:
        html = self.client.get(path).get_data(as_text=True)
        found = CSRF.search(html)
        assert found, f"no CSRF token on {path}"
        return found.group(1)

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.client.get(path, **kwargs)

    def post(self, path: str, data: dict[str, Any] | None = None, *, token_from: str = "/", **kwargs: Any) -> Any:
        payload = dict(data or {})
        payload.setdefault("csrf_token", self.token(token_from))
        return self.client.post(path, data=payload, **kwargs)

    def login(self, username: str, password: str = "demo") -> Any:
        return self.client.post(
            "/login", data={"username": username, "password": password, "csrf_token": self.token("/login")}
        )

    def logout(self) -> Any:
        return self.post("/logout")


@pytest.fixture
def app(db: dbmod.Database, settings: Settings) -> Any:
    application = create_app(settings, database=db)
    application.config["TESTING"] = True
    return application


@pytest.fixture
def browser(app: Any) -> Browser:
    return Browser(app.test_client())


@pytest.fixture
def signed_in(app: Any) -> Any:
    """``signed_in("idari1")`` → a Browser signed in as that demo user."""

    def sign_in(username: str) -> Browser:
        b = Browser(app.test_client())
        response = b.login(username)
        assert response.status_code == 302, response.get_data(as_text=True)
        return b

    return sign_in
