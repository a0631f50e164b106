"""LDAP / Active Directory sign-in against ldap3's in-memory mock directory."""

from __future__ import annotations

import pytest
from factories import act
from ldap3 import MOCK_SYNC, Connection, Server

from engine import ldap_auth, signin

DN = "uid={username},ou=people,dc=belediye,dc=local"
CONFIG = ldap_auth.LdapConfig("ldap://dizin.belediye.local", DN)


@pytest.fixture
def directory(monkeypatch):
    server = Server("dizin")
    seed = Connection(server, client_strategy=MOCK_SYNC)
    seed.strategy.add_entry(DN.format(username="idari1"), {"uid": "idari1", "userPassword": "Dizin-Parola1"})
    seed.strategy.add_entry(DN.format(username="eski"), {"uid": "eski", "userPassword": "x"})

    def connect(_config, bind_name, password):
        return Connection(server, user=bind_name, password=password, client_strategy=MOCK_SYNC)

    monkeypatch.setattr(ldap_auth, "_config", CONFIG)
    monkeypatch.setattr(ldap_auth, "_connect", connect)
    return connect


def test_the_directory_checks_the_password(directory) -> None:
    assert ldap_auth.verify("idari1", "Dizin-Parola1")
    assert not ldap_auth.verify("idari1", "yanlis")
    assert not ldap_auth.verify("idari1", "")  # an empty password would be an anonymous bind
    assert not ldap_auth.verify("*)(uid=*", "x")  # the name is escaped, not a filter or DN injection


def test_sign_in_through_the_directory_keeps_kalem_groups(db, directory) -> None:
    result = act(db, None, lambda s, a: signin.authenticate(s, "idari1", "Dizin-Parola1"))
    assert result.ok and "idari_isler" in result.actor.groups
    local = act(db, None, lambda s, a: signin.authenticate(s, "idari1", "demo"))
    assert local.ok  # the local password still works
    assert not act(db, None, lambda s, a: signin.authenticate(s, "idari1", "yanlis")).ok


def test_a_directory_user_unknown_to_kalem_cannot_sign_in(db, directory) -> None:
    assert ldap_auth.verify("eski", "x")
    assert not act(db, None, lambda s, a: signin.authenticate(s, "eski", "x")).ok


def test_configuration_from_the_environment() -> None:
    from engine.config import Settings

    settings = Settings.from_env({"KALEM_LDAP_URL": "ldaps://dc", "KALEM_LDAP_USER_DN": "{username}@belediye.local"})
    ldap_auth.configure(settings)
    try:
        assert ldap_auth.enabled()
    finally:
        ldap_auth.configure(Settings())
    assert not ldap_auth.enabled()
