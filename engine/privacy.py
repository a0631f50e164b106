"""KVKK masking of applicants' personal data in everything the engine hands out (§9, §5.2, §5.5).

Convention: process variables named ``basvuran_*`` hold the applicant's personal data; a true
``kimlik_gizli`` marks an identity CİMER hides. Who sees what:

* hidden identity: only CİMER account holders (``halkla_iliskiler``) and the KVKK officer see it;
  everyone else sees ``CİMER başvuru sahibi``;
* otherwise Özel Kalem's own staff and the people working the case (a task of theirs, as assignee or
  candidate) see it unmasked; supervisors who merely oversee the case (auditors, administrators,
  Mali Hizmetler) see it masked (``A*** Y***``, ``123******90``, ``+90 5** *** ** 12``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from engine.actors import Actor

PERSONAL_PREFIX = "basvuran_"
HIDDEN_FLAG = "kimlik_gizli"
HIDDEN_IDENTITY_LABEL = "CİMER başvuru sahibi (kimlik gizli)"
HIDDEN_IDENTITY_HOLDERS = frozenset({"halkla_iliskiler", "kvkk_sorumlusu"})
OZEL_KALEM_GROUPS = frozenset(
    {"ozel_kalem_muduru", "ozel_kalem_sef", "idari_isler", "halkla_iliskiler", "sekretarya", "bilgi_edinme_birimi"}
)
OVERSIGHT_ONLY_GROUPS = frozenset({"denetci", "sistem_yoneticisi", "mali_hizmetler"})


def is_personal(key: str) -> bool:
    return key.startswith(PERSONAL_PREFIX)


def may_see_identity(actor: Actor, data: Mapping[str, Any], *, works_on_case: bool) -> bool:
    """Whether ``actor`` sees the applicant unmasked; ``works_on_case``: holds or may take one of its tasks."""
    if actor.is_system:
        return True
    if data.get(HIDDEN_FLAG):
        return bool(actor.groups & HIDDEN_IDENTITY_HOLDERS)
    if actor.groups & (OZEL_KALEM_GROUPS | {"kvkk_sorumlusu"}):
        return True
    return works_on_case and not actor.groups & OVERSIGHT_ONLY_GROUPS


def visible(data: Mapping[str, Any], actor: Actor, *, works_on_case: bool) -> dict[str, Any]:
    """``data`` as ``actor`` may see it (a copy; the stored data is never changed)."""
    if may_see_identity(actor, data, works_on_case=works_on_case):
        return dict(data)
    hidden = bool(data.get(HIDDEN_FLAG))
    return {
        key: (HIDDEN_IDENTITY_LABEL if hidden else mask(key, value)) if is_personal(key) and value else value
        for key, value in data.items()
    }


def mask(key: str, value: Any) -> str:
    """A masked rendering of one personal value, by the kind its name says."""
    text = str(value)
    name = key.removeprefix(PERSONAL_PREFIX)
    if "tckn" in name or "vkn" in name:
        return text[:3] + "*" * max(len(text) - 5, 0) + text[-2:] if len(text) > 5 else "***"
    if "eposta" in name or "@" in text:
        local, _at, domain = text.partition("@")
        host, dot, tld = domain.rpartition(".")
        return f"{local[:1]}***@{host[:1]}***{dot}{tld}" if host else f"{local[:1]}***"
    if "telefon" in name or name == "tel":
        digits = re.sub(r"\D", "", text)
        return f"+90 {digits[-10:-9] or '*'}** *** ** {digits[-2:]}" if len(digits) >= 4 else "***"
    if "adres" in name:
        parts = [p.strip() for p in re.split(r"[,/\n]", text) if p.strip()]
        return f"*** {parts[-1]}" if len(parts) > 1 else "***"
    return " ".join(f"{word[:1]}***" for word in text.split()) or "***"
