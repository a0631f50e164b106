"""API tokens: created once, stored hashed, scoped, expiring and revocable."""

from __future__ import annotations

from datetime import timedelta

import pytest
from factories import act, read

from engine import clock, tokens
from engine.errors import InvalidInput, NotAllowed, NotFound
from engine.models import ApiToken


def test_a_token_acts_as_its_user_within_its_scopes(db) -> None:
    token, secret = act(db, "admin", lambda s, a: tokens.create(s, a, "idari1", "EBYS", ["tasks:read"]))
    assert secret.startswith("klm_") and secret not in str(read(db, lambda s: s.get(ApiToken, token.id).token_hash))
    identity = read(db, lambda s: tokens.authenticate(s, secret))
    assert identity.actor.username == "idari1" and "idari_isler" in identity.actor.groups
    tokens.require_scope(identity.scopes, "tasks:read")
    with pytest.raises(NotAllowed, match="tasks:write"):
        tokens.require_scope(identity.scopes, "tasks:write")
    assert identity.needs_touch(clock.now())
    act(db, None, lambda s, a: tokens.touch(s, identity.token_id))
    touched = read(db, lambda s: tokens.authenticate(s, secret))
    assert not touched.needs_touch(clock.now()) and touched.needs_touch(clock.now() + timedelta(minutes=6))


def test_revoked_expired_and_unknown_tokens_are_refused(db) -> None:
    token, secret = act(db, "idari1", lambda s, a: tokens.create(s, a, "idari1", "betik", ["tasks:read"]))
    act(db, "idari1", lambda s, a: tokens.revoke(s, a, token.id))
    with pytest.raises(NotFound):
        act(db, None, lambda s, a: tokens.authenticate(s, secret))
    soon = clock.now() + timedelta(hours=1)
    _t, short = act(db, "admin", lambda s, a: tokens.create(s, a, "idari1", "kısa", ["tasks:read"], expires_at=soon))
    with clock.frozen_at(soon + timedelta(seconds=1)), pytest.raises(NotFound):
        act(db, None, lambda s, a: tokens.authenticate(s, short))
    with pytest.raises(NotFound):
        act(db, None, lambda s, a: tokens.authenticate(s, "klm_uydurma"))


def test_only_admins_create_tokens_for_others_and_scopes_are_checked(db) -> None:
    with pytest.raises(NotAllowed):
        act(db, "idari1", lambda s, a: tokens.create(s, a, "idari2", "x", ["tasks:read"]))
    with pytest.raises(InvalidInput, match="her:sey"):
        act(db, "admin", lambda s, a: tokens.create(s, a, "idari1", "x", ["her:sey"]))
    with pytest.raises(NotFound):
        act(db, "idari2", lambda s, a: tokens.revoke(s, a, 999))
