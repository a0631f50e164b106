"""Settings for every Kalem process, read from ``KALEM_*`` environment variables.

This is the only module that reads ``os.environ``. Tests build ``Settings`` directly.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_INSTANCE_DIR = ROOT / "instance"
# Only for development and tests; production must set KALEM_AUDIT_KEY (see README).
DEV_AUDIT_KEY = "kalem-development-audit-key"


@dataclass(frozen=True)
class Settings:
    """Runtime configuration. Every key is documented in the README's configuration table."""

    database_url: str = ""
    instance_dir: Path = DEFAULT_INSTANCE_DIR
    # HMAC key of the audit hash chain: rows cannot be forged without it.
    audit_key: str = DEV_AUDIT_KEY
    secret_key: str = "kalem-development-secret"
    # Wall-clock limit for one script, condition or expression evaluation, in seconds.
    script_time_limit: float = 2.0
    timezone: str = "Europe/Istanbul"
    run_scheduler_in_process: bool = True
    attachment_max_bytes: int = 20 * 1024 * 1024
    # REST API requests per token per minute, counted per web process.
    api_rate_per_minute: int = 600
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def attachment_dir(self) -> Path:
        return self.instance_dir / "attachments"

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.instance_dir / 'kalem.sqlite3'}"

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if environ is None else environ)
        instance_dir = Path(env.get("KALEM_INSTANCE_DIR", str(DEFAULT_INSTANCE_DIR)))
        return cls(
            database_url=env.get("KALEM_DATABASE_URL", ""),
            instance_dir=instance_dir,
            audit_key=env.get("KALEM_AUDIT_KEY", DEV_AUDIT_KEY),
            secret_key=env.get("KALEM_SECRET_KEY") or _local_secret(instance_dir),
            script_time_limit=float(env.get("KALEM_SCRIPT_TIME_LIMIT", "2.0")),
            timezone=env.get("KALEM_TIMEZONE", "Europe/Istanbul"),
            run_scheduler_in_process=env.get("KALEM_SCHEDULER_IN_PROCESS", "1") not in ("0", "false", "no"),
            attachment_max_bytes=int(env.get("KALEM_ATTACHMENT_MAX_BYTES", str(20 * 1024 * 1024))),
            api_rate_per_minute=int(env.get("KALEM_API_RATE_PER_MINUTE", "600")),
            extra={k: v for k, v in env.items() if k.startswith("KALEM_")},
        )


def _local_secret(instance_dir: Path) -> str:
    """Without ``KALEM_SECRET_KEY``: a random key made once per installation and kept (0600) in the
    instance folder, so session cookies can never be signed with a key that is public."""
    path = instance_dir / "secret_key"
    try:
        return path.read_text().strip() or _new_secret(path)
    except FileNotFoundError:
        return _new_secret(path)


def _new_secret(path: Path) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as out:
        out.write(key)
    return key
