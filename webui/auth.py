"""Sign-in (``/login``, fields ``username`` and ``password``) and sign-out (``POST /logout``).

Passwords are checked by ``engine.signin`` (argon2, lock-out counted in the database). The session
cookie carries only the username; every request reloads the user, so a deactivated user is out at
their next click. LDAP/Active Directory sign-in is not implemented yet.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import LoginManager, UserMixin, current_user, login_user, logout_user

from engine import db as dbmod
from engine import people, signin
from engine.actors import Actor
from engine.errors import NotFound
from engine.incidents import recorded_transaction
from webui.i18n import N_, local_time
from webui.request_scope import database, safe_next

bp = Blueprint("auth", __name__)
login_manager = LoginManager()


class WebUser(UserMixin):
    """The signed-in user: their engine ``Actor`` and the name to show."""

    def __init__(self, actor: Actor, full_name: str) -> None:
        self.actor = actor
        self.full_name = full_name

    def get_id(self) -> str:
        return self.actor.username

    @property
    def may_manage(self) -> bool:
        return self.actor.is_admin or bool(self.actor.manages)

    @property
    def may_audit(self) -> bool:
        return self.may_manage or "denetci" in self.actor.groups

    @property
    def may_design(self) -> bool:
        return self.actor.is_admin or "surec_tasarimcisi" in self.actor.groups


@login_manager.user_loader
def load_user(username: str) -> WebUser | None:
    with dbmod.read_session(database()) as s:
        if not signin.session_is_live(s, session.get("sid"), username):
            return None  # signed out (or ended) on the server: the cookie alone opens nothing
        try:
            actor = people.actor_for(s, username)
        except NotFound:
            return None
    return WebUser(actor, session.get("full_name") or username)


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    if current_user.is_authenticated:
        return redirect(safe_next(url_for("inbox.index")))
    if request.method == "GET":
        return render_template("auth/login.html", username="", next=request.args.get("next", ""))
    username = request.form.get("username", "")
    password = request.form.get("password", "")
    with recorded_transaction(database()) as s:
        result = signin.authenticate(s, username, password)
        full_name = people.get_user(s, result.actor.username).full_name if result.actor else ""
        sid = signin.open_session(s, result.actor.username) if result.actor else None
    if result.actor is not None:
        lang = session.get("lang")
        # A fresh session at sign-in: nothing from before survives but the chosen language.
        session.clear()
        if lang:
            session["lang"] = lang
        session["full_name"] = full_name
        session["sid"] = sid
        login_user(WebUser(result.actor, full_name))
        return redirect(safe_next(url_for("inbox.index")))
    if result.locked_until is not None:
        message = _(
            "Çok sayıda hatalı giriş denemesi. Bu kullanıcı adıyla %(time)s saatine kadar giriş yapılamaz.",
            time=local_time(result.locked_until, "%H:%M"),
        )
        status = 429
    else:
        message = _("Kullanıcı adı ya da parola hatalı.")
        status = 401
    return (
        render_template("auth/login.html", error=message, username=username, next=request.form.get("next", "")),
        status,
    )


@bp.post("/logout")
def logout() -> Any:
    with recorded_transaction(database()) as s:
        signin.end_session(s, session.get("sid"))
    logout_user()
    lang = session.get("lang")
    session.clear()
    if lang:
        session["lang"] = lang
    flash(_("Oturumunuz kapatıldı."), "info")
    return redirect(url_for("auth.login"))


def init_app(app: Flask) -> None:
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = N_("Bu sayfayı görmek için giriş yapın.")
    login_manager.login_message_category = "info"
    login_manager.localize_callback = _
    # Flask-Login's own "remember me" cookie is never set; sessions end with the browser.
    login_manager.session_protection = "strong"
