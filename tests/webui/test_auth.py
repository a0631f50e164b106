"""Sign-in: argon2 passwords, CSRF on the form, cookie flags, lock-out counted in the database."""

from __future__ import annotations

from datetime import timedelta

import pytest
from factories import read
from sqlalchemy import select
from web_client import Browser

from engine import clock, signin
from engine.models import AuditEvent, LoginThrottle
from webui import create_app


def test_pages_need_sign_in_and_come_back_after_it(browser):
    response = browser.get("/tasks/1")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")
    response = browser.client.post(
        "/login",
        data={"username": "idari1", "password": "demo", "next": "/start", "csrf_token": browser.token("/login")},
    )
    assert response.status_code == 302 and response.headers["Location"] == "/start"


def test_sign_in_sets_a_http_only_same_site_cookie_and_shows_the_user(browser):
    response = browser.login("idari1")
    assert response.status_code == 302 and response.headers["Location"] == "/"
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    page = browser.get("/").get_data(as_text=True)
    assert "Ali Koç" in page and "Çıkış" in page


def test_sign_in_refuses_a_wrong_password_without_saying_which_part_was_wrong(browser):
    wrong_password = browser.login("idari1", "yanlis")
    unknown_user = browser.login("kimse.yok", "yanlis")
    assert wrong_password.status_code == unknown_user.status_code == 401
    message = "Kullanıcı adı ya da parola hatalı."
    assert message in wrong_password.get_data(as_text=True) and message in unknown_user.get_data(as_text=True)
    assert browser.get("/").status_code == 302


def test_login_form_without_csrf_token_is_refused(browser):
    response = browser.client.post("/login", data={"username": "idari1", "password": "demo"})
    assert response.status_code == 400
    assert "güvenlik doğrulaması" in response.get_data(as_text=True)
    assert browser.get("/").status_code == 302


def test_five_failures_lock_the_name_for_fifteen_minutes_even_with_the_right_password(browser, db):
    for _attempt in range(signin.MAX_FAILURES - 1):
        assert browser.login("idari2", "yanlis").status_code == 401
    locked = browser.login("idari2", "yanlis")
    assert locked.status_code == 429 and "giriş yapılamaz" in locked.get_data(as_text=True)
    assert browser.login("idari2", "demo").status_code == 429
    row = read(db, lambda s: s.get(LoginThrottle, "idari2"))
    assert row.failures == signin.MAX_FAILURES
    assert row.locked_until - row.last_failure_at == signin.LOCK_DURATION
    actions = read(db, lambda s: list(s.scalars(select(AuditEvent.action).where(AuditEvent.actor == "idari2"))))
    assert actions == ["user.locked_out"]
    # Another name is not affected.
    assert browser.login("idari1", "demo").status_code == 302


def test_lock_ends_after_fifteen_minutes_and_a_success_clears_the_count(browser, db):
    for _attempt in range(signin.MAX_FAILURES):
        browser.login("idari2", "yanlis")
    later = clock.now() + signin.LOCK_DURATION + timedelta(seconds=1)
    with clock.frozen_at(later):
        assert browser.login("idari2", "demo").status_code == 302
    assert read(db, lambda s: s.get(LoginThrottle, "idari2")) is None


def test_failures_count_in_the_database_so_a_second_worker_sees_them(app, db, settings):
    """Two app instances (two workers) on one database share the count."""
    other = create_app(settings, database=db)
    other.config["TESTING"] = True
    first, second = Browser(app.test_client()), Browser(other.test_client())
    for _attempt in range(3):
        first.login("ok.sef", "yanlis")
    for _attempt in range(2):
        second.login("ok.sef", "yanlis")
    assert first.login("ok.sef", "demo").status_code == 429


def test_logout_is_a_post_and_ends_the_session(signed_in):
    b = signed_in("idari1")
    assert b.get("/logout").status_code == 405
    response = b.logout()
    assert response.status_code == 302 and response.headers["Location"] == "/login"
    assert b.get("/").status_code == 302


def test_successful_sign_in_is_audited(signed_in, db):
    signed_in("hi1")
    assert read(db, lambda s: s.scalar(select(AuditEvent.action).where(AuditEvent.actor == "hi1"))) == "user.signed_in"


def test_english_is_available_and_turkish_is_the_default(browser):
    assert "Kullanıcı adı" in browser.get("/login").get_data(as_text=True)
    browser.get("/lang/en?next=/login")
    page = browser.get("/login").get_data(as_text=True)
    assert "Username" in page and "Kullanıcı adı" not in page


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example/", "/\\evil.example"])
def test_next_never_leaves_the_site(browser, target):
    response = browser.client.post(
        "/login", data={"username": "idari1", "password": "demo", "next": target, "csrf_token": browser.token("/login")}
    )
    assert response.headers["Location"] == "/"
