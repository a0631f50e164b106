"""Optional LDAP / Active Directory sign-in: the directory checks the password, Kalem keeps the
user's groups. A user must exist (and be active) in Kalem; only the password check is delegated.

Configured by ``KALEM_LDAP_URL`` (``ldaps://dc.belediye.local``) and ``KALEM_LDAP_USER_DN``, a
template for the bind name: ``uid={username},ou=people,dc=belediye,dc=local`` for OpenLDAP, or
``{username}@belediye.local`` (a UPN) for Active Directory. ``KALEM_LDAP_START_TLS=1`` upgrades a
plain ``ldap://`` connection before the password is sent.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ldap3 import Connection, Server
from ldap3.core.exceptions import LDAPException
from ldap3.utils.dn import escape_rdn

from engine.config import Settings


@dataclass(frozen=True)
class LdapConfig:
    url: str
    user_dn: str
    start_tls: bool = False
    timeout: int = 5


Connect = Callable[[LdapConfig, str, str], Connection]
_config: LdapConfig | None = None


def configure(settings: Settings) -> None:
    global _config
    url, template = settings.extra.get("KALEM_LDAP_URL", ""), settings.extra.get("KALEM_LDAP_USER_DN", "")
    start_tls = settings.extra.get("KALEM_LDAP_START_TLS", "0") in ("1", "true", "yes")
    _config = LdapConfig(url, template, start_tls) if url and "{username}" in template else None


def enabled() -> bool:
    return _config is not None


def _connect(config: LdapConfig, bind_name: str, password: str) -> Connection:
    server = Server(config.url, connect_timeout=config.timeout)
    return Connection(server, user=bind_name, password=password, receive_timeout=config.timeout)


def verify(username: str, password: str, *, config: LdapConfig | None = None, connect: Connect | None = None) -> bool:
    """Whether the directory accepts ``password`` for ``username``. An empty password is refused
    before any bind: LDAP treats it as an anonymous bind, which would "succeed"."""
    config = config or _config
    if config is None or not username or not password:
        return False
    bind_name = config.user_dn.format(username=escape_rdn(username))
    try:
        connection = (connect or _connect)(config, bind_name, password)
        if config.start_tls:
            connection.open()
            connection.start_tls()
        ok = bool(connection.bind())
        connection.unbind()
        return ok
    except LDAPException:
        return False
