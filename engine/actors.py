"""Who is acting: a user with their groups, or the system (scheduler, seed, migrations)."""

from __future__ import annotations

from dataclasses import dataclass, field

SYSTEM_USERNAME = "system"
ADMIN_GROUPS = frozenset({"sistem_yoneticisi"})


@dataclass(frozen=True)
class Actor:
    username: str
    groups: frozenset[str] = field(default_factory=frozenset)
    manages: frozenset[str] = field(default_factory=frozenset)
    is_system: bool = False

    @classmethod
    def system(cls) -> Actor:
        return cls(SYSTEM_USERNAME, is_system=True)

    @property
    def is_admin(self) -> bool:
        return self.is_system or bool(self.groups & ADMIN_GROUPS)

    def __str__(self) -> str:
        return self.username
