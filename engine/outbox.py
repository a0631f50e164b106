"""The notification outbox: Turkish templates, per-user preferences, and sending the
``notification`` rows by e-mail (SMTP) or SMS after the actions that wrote them committed.

Contract of :func:`flush`:

* **claim** — one short transaction moves a batch of due rows (``pending``, or ``sending`` whose
  lease ran out because a sender died) to ``sending`` with a lease: ``next_attempt_at`` becomes the
  lease's end and doubles as the claim's fencing token. On PostgreSQL the rows are picked with
  ``FOR UPDATE SKIP LOCKED``, so concurrent senders never claim the same row; SQLite serialises
  writers with ``BEGIN IMMEDIATE``.
* **send** — outside any transaction (no database lock is held during network I/O).
* **mark** — one short transaction per row: ``sent`` only if the row still carries our lease
  (``UPDATE … WHERE status='sending' AND next_attempt_at=<our lease>``), so a row is marked once.
  A failure makes the row ``pending`` again with exponential back-off; a permanent refusal (SMTP
  5xx) or too many attempts makes it ``failed`` — kept, visible and re-queueable, never deleted.

A sender killed between the server's "250 OK" and the mark leaves a ``sending`` row that is sent
again after its lease; the message keeps its ``Message-ID`` (``<kalem-<id>@<domain>>``) so mail
systems can drop the duplicate. That window (milliseconds) is the only way a message goes twice.
"""

from __future__ import annotations

import json
import logging
import smtplib
import ssl
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine import audit, calendar, clock, inbox_entries, people
from engine.actors import Actor
from engine.db import Database, transaction
from engine.errors import InvalidInput, NotAllowed
from engine.i18n import _
from engine.models import HumanTask, InboxEntry, Notification, User
from engine.models.scheduling import DigestSent, NotificationPreference

logger = logging.getLogger(__name__)

ISTANBUL = ZoneInfo("Europe/Istanbul")
PENDING, SENDING, SENT, FAILED = "pending", "sending", "sent", "failed"
EMAIL, SMS = "email", "sms"
BACKOFF_BASE = timedelta(minutes=1)
BACKOFF_CAP = timedelta(hours=6)
DEFAULT_LEASE = timedelta(minutes=5)
# 12 attempts with the back-off above span about a day and a half before a row is marked failed.
DEFAULT_MAX_ATTEMPTS = 12


# --- templates -------------------------------------------------------------------------------------

TEMPLATES: dict[str, tuple[str, str]] = {
    "deadline.hatirlatma": (
        "Hatırlatma: '{task}' işi bekliyor",
        "Sayın {name},\n\n{business_key} numaralı '{process}' kaydındaki '{task}' işi {created} tarihinden "
        "beri işlem bekliyor.{due_line}\n\nKalem iş akışı sistemi",
    ),
    "deadline.hatirlatma_yonetici": (
        "Gecikme: '{task}' işi {days} iş günüdür bekliyor",
        "Sayın {name},\n\n{business_key} numaralı '{process}' kaydındaki '{task}' işi {created} tarihinden beri "
        "işlem bekliyor ({days} iş günü). Havale yapılmadı.{due_line}\n\nKalem iş akışı sistemi",
    ),
    "deadline.yuzde_50": (
        "Hatırlatma: '{task}' işinin süresinin yarısı doldu",
        "Sayın {name},\n\n{business_key} numaralı '{process}' kaydındaki '{task}' işinin süresinin yarısı "
        "doldu.\nSon tarih: {due}\n\nKalem iş akışı sistemi",
    ),
    "deadline.yuzde_75": (
        "Uyarı: '{task}' işinin süresinin %75'i doldu",
        "Sayın {name},\n\n{business_key} numaralı '{process}' kaydındaki '{task}' işinin süresinin %75'i "
        "doldu.\nİşi yapan: {doer}\nSon tarih: {due}\n\nKalem iş akışı sistemi",
    ),
    "deadline.son_2_gun": (
        "Acil: '{task}' işinin süresinin dolmasına {days} iş günü kaldı",
        "Sayın {name},\n\n{business_key} numaralı '{process}' kaydındaki '{task}' işinin süresinin dolmasına "
        "{days} iş günü kaldı.\nİşi yapan: {doer}\nSon tarih: {due}\n\nKalem iş akışı sistemi",
    ),
    "deadline.gecikti": (
        "Süresi geçti: '{task}'",
        "Sayın {name},\n\n{business_key} numaralı '{process}' kaydındaki '{task}' işinin süresi {due} "
        "itibarıyla geçti. İş kapatılmadı; açık ve gecikmiş olarak işaretlendi.\nİşi yapan: {doer}\n\n"
        "Kalem iş akışı sistemi",
    ),
    "case.son_2_gun": (
        "Yasal süre dolmak üzere: {business_key}",
        "Sayın {name},\n\n{business_key} numaralı '{process}' kaydının yasal süresi ({law}) {due} tarihinde "
        "doluyor; {days} iş günü kaldı.\n{action}\n\nKalem iş akışı sistemi",
    ),
    "case.gecikti": (
        "Yasal süre aşıldı: {business_key}",
        "Sayın {name},\n\n{business_key} numaralı '{process}' kaydının yasal süresi ({law}) {due} tarihinde "
        "doldu ve kayıt hâlâ açık. Kayıt 'Süresi geçti' olarak işaretlendi ve gecikme raporunda "
        "yer alıyor.\n\nKalem iş akışı sistemi",
    ),
    "digest": (
        "Bugün süresi dolan {today} işiniz var",
        "Sayın {name},\n\nBugün ({day}) süresi dolan {today} işiniz var.{overdue_line}\n\n{lines}\n\n"
        "Kalem iş akışı sistemi",
    ),
}


def render(template: str, values: Mapping[str, Any]) -> tuple[str, str]:
    """Subject and body of a Turkish template, filled with ``values`` (a missing value is '-')."""
    subject, body = TEMPLATES[template]
    filled = _Defaults({k: "-" if v is None else v for k, v in values.items()})
    return subject.format_map(filled), body.format_map(filled)


class _Defaults(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return "-"


def local_text(instant: datetime | None) -> str:
    """An instant as staff read it: ``11.06.2026 17:30`` (Europe/Istanbul)."""
    return "-" if instant is None else clock.as_utc(instant).astimezone(ISTANBUL).strftime("%d.%m.%Y %H:%M")


# --- preferences -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Preferences:
    email: bool = True
    sms: bool = False
    digest: bool = True


def preferences(session: Session, username: str) -> Preferences:
    row = session.get(NotificationPreference, username)
    if row is None:
        return Preferences()
    return Preferences(row.email_enabled, row.sms_enabled, row.digest_enabled)


def set_preferences(
    session: Session,
    actor: Actor,
    username: str,
    *,
    email: bool | None = None,
    sms: bool | None = None,
    digest: bool | None = None,
) -> Preferences:
    """A user changes their own channels and digest (an administrator may change anyone's)."""
    if actor.username != username and not actor.is_admin:
        raise NotAllowed(_("Başka bir kullanıcının bildirim tercihlerini değiştiremezsiniz."))
    people.get_user(session, username)
    row = session.get(NotificationPreference, username)
    if row is None:
        row = NotificationPreference(
            username=username, email_enabled=True, sms_enabled=False, digest_enabled=True, updated_at=clock.now()
        )
        session.add(row)
    if email is not None:
        row.email_enabled = email
    if sms is not None:
        row.sms_enabled = sms
    if digest is not None:
        row.digest_enabled = digest
    row.updated_at = clock.now()
    session.flush()
    audit.append(
        session,
        actor,
        "notification.preferences",
        details={
            "username": username,
            "email": row.email_enabled,
            "sms": row.sms_enabled,
            "digest": row.digest_enabled,
        },
    )
    return Preferences(row.email_enabled, row.sms_enabled, row.digest_enabled)


# --- enqueueing ------------------------------------------------------------------------------------


def enqueue(
    session: Session, channel: str, recipient: str, subject: str, body: str, *, instance_id: int | None = None
) -> Notification:
    """One outbox row in the caller's transaction; nothing leaves before it commits."""
    if channel not in (EMAIL, SMS):
        raise InvalidInput(_("Bilinmeyen bildirim kanalı: '{channel}'.", channel=channel))
    now = clock.now()
    row = Notification(
        channel=channel,
        recipient=recipient,
        subject=subject[:500],
        body=body,
        instance_id=instance_id,
        status=PENDING,
        attempts=0,
        next_attempt_at=now,
        created_at=now,
    )
    session.add(row)
    return row


def behalf_text(subject: str, body: str, principals: Sequence[str]) -> tuple[str, str]:
    """A message sent to a deputy (vekil) in place of ``principals`` (display names): the subject
    says "(X adına)" and a line after the greeting says they receive it as X's vekil."""
    names = ", ".join(principals)
    note = f"Bu bildirim, vekili olduğunuz {names} adına size gönderilmiştir (vekalet)."
    greeting, sep, rest = body.partition("\n\n")
    body = f"{greeting}\n\n{note}\n\n{rest}" if sep else f"{note}\n\n{body}"
    return f"{subject} ({names} adına)", body


def notify_user(
    session: Session,
    user: User,
    template: str,
    values: Mapping[str, Any],
    *,
    instance_id: int | None = None,
    prefs: Preferences | None = None,
    on_behalf_of: Sequence[str] = (),
) -> list[str]:
    """Enqueue ``template`` for ``user`` on each channel they keep on and have an address for;
    returns the channels used (empty: the user turned them off or has no address).

    ``on_behalf_of``: display names of the people ``user`` receives it for as their vekil
    (see :func:`behalf_text`)."""
    prefs = prefs or preferences(session, user.username)
    subject, body = render(template, {"name": user.full_name, **values})
    if on_behalf_of:
        subject, body = behalf_text(subject, body, on_behalf_of)
    used: list[str] = []
    if prefs.email and user.email:
        enqueue(session, EMAIL, user.email, subject, body, instance_id=instance_id)
        used.append(EMAIL)
    if prefs.sms and user.phone:
        enqueue(session, SMS, user.phone, subject, subject, instance_id=instance_id)
        used.append(SMS)
    return used


# --- transports ------------------------------------------------------------------------------------


class PermanentFailure(Exception):
    """The receiving side refused for good (e.g. SMTP 5xx): retrying will not help."""


class TransientFailure(Exception):
    """Worth retrying later (server down, 4xx, timeout)."""


class Mailer(Protocol):
    def connection(self) -> Any:
        """A context manager yielding a callable ``send(message: EmailMessage)``."""
        ...


class SmsSender(Protocol):
    def send(self, notification_id: int, to: str, text: str) -> None: ...


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int = 25
    username: str | None = None
    password: str | None = None
    starttls: bool = False
    use_ssl: bool = False
    sender: str = "Kalem <kalem@localhost>"
    timeout: float = 20.0


class SmtpMailer:
    """SMTP through :mod:`smtplib`: one connection per flushed batch."""

    def __init__(self, config: SmtpConfig) -> None:
        self.config = config

    def _connect(self) -> smtplib.SMTP:
        cfg = self.config
        try:
            if cfg.use_ssl:
                smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                    cfg.host, cfg.port, timeout=cfg.timeout, context=ssl.create_default_context()
                )
            else:
                smtp = smtplib.SMTP(cfg.host, cfg.port, timeout=cfg.timeout)
            if cfg.starttls:
                smtp.starttls(context=ssl.create_default_context())
            if cfg.username:
                smtp.login(cfg.username, cfg.password or "")
        except (OSError, smtplib.SMTPException) as exc:
            raise TransientFailure(f"SMTP sunucusuna bağlanılamadı: {exc}") from exc
        return smtp

    @contextmanager
    def connection(self) -> Iterator[Any]:
        smtp = self._connect()
        try:
            yield lambda message: _smtp_send(smtp, message)
        finally:
            try:
                smtp.quit()
            except (OSError, smtplib.SMTPException):
                smtp.close()


def _smtp_send(smtp: smtplib.SMTP, message: EmailMessage) -> None:
    """Send one message; SMTP 5xx → PermanentFailure, anything else that fails → TransientFailure."""
    try:
        refused = smtp.send_message(message)
    except smtplib.SMTPRecipientsRefused as exc:
        codes = [code for code, _msg in exc.recipients.values()]
        if codes and all(code >= 500 for code in codes):
            raise PermanentFailure(f"alıcı reddedildi: {exc.recipients}") from exc
        raise TransientFailure(f"alıcı geçici olarak reddedildi: {exc.recipients}") from exc
    except smtplib.SMTPResponseException as exc:
        error = exc.smtp_error
        text = error.decode("utf-8", "replace") if isinstance(error, bytes) else str(error)
        if exc.smtp_code >= 500:
            raise PermanentFailure(f"{exc.smtp_code} {text}") from exc
        raise TransientFailure(f"{exc.smtp_code} {text}") from exc
    except (OSError, smtplib.SMTPException) as exc:
        raise TransientFailure(str(exc) or type(exc).__name__) from exc
    if refused:
        raise PermanentFailure(f"alıcı reddedildi: {refused}")


class FileSmsSender:
    """Development SMS adapter: one JSON line per message appended to a file (``tail -f`` it)."""

    _lock = threading.Lock()

    def __init__(self, path: Path) -> None:
        self.path = path

    def send(self, notification_id: int, to: str, text: str) -> None:
        line = json.dumps(
            {"id": notification_id, "to": to, "text": text, "at": clock.now().isoformat()}, ensure_ascii=False
        )
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._lock, self.path.open("a", encoding="utf-8") as fh:
            fh.write(line + "\n")

    def messages(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        return [json.loads(line) for line in self.path.read_text(encoding="utf-8").splitlines() if line.strip()]


# --- flushing --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Claimed:
    id: int
    channel: str
    recipient: str
    subject: str
    body: str
    attempts: int
    lease: datetime


@dataclass
class FlushReport:
    sent: list[int] = field(default_factory=list)
    retried: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    lost_lease: list[int] = field(default_factory=list)


def backoff(attempts: int) -> timedelta:
    """Delay before attempt ``attempts + 1``: 1, 2, 4, 8 … minutes, at most 6 hours."""
    return min(BACKOFF_BASE * (2 ** max(attempts - 1, 0)), BACKOFF_CAP)


def claim(
    db: Database, at: datetime, *, channels: Sequence[str], limit: int = 100, lease: timedelta = DEFAULT_LEASE
) -> list[Claimed]:
    """Move up to ``limit`` due rows of ``channels`` to ``sending`` under a lease, in one transaction."""
    if not channels:
        return []
    with transaction(db) as session:
        skip_locked = session.get_bind().dialect.name == "postgresql"
        due = (
            select(Notification)
            .where(
                or_(Notification.status == PENDING, Notification.status == SENDING),
                Notification.next_attempt_at <= at,
                Notification.channel.in_(list(channels)),
            )
            .order_by(Notification.next_attempt_at, Notification.id)
            .limit(limit)
            .with_for_update(skip_locked=skip_locked)
        )
        rows = list(session.scalars(due))
        until = at + lease
        claimed = []
        for row in rows:
            row.status, row.attempts, row.next_attempt_at = SENDING, row.attempts + 1, until
            claimed.append(Claimed(row.id, row.channel, row.recipient, row.subject, row.body, row.attempts, until))
    return claimed


def flush(
    db: Database,
    *,
    mailer: Mailer | None = None,
    sms: SmsSender | None = None,
    at: datetime | None = None,
    limit: int = 100,
    lease: timedelta = DEFAULT_LEASE,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    sender: str = "Kalem <kalem@localhost>",
) -> FlushReport:
    """Send one batch of due notifications; rows of a channel without a transport stay pending.

    ``at`` (time travel, tests) pins the clock for the whole batch; by default it is now."""
    if at is not None:
        with clock.frozen_at(at):
            return flush(db, mailer=mailer, sms=sms, limit=limit, lease=lease, max_attempts=max_attempts, sender=sender)
    at = clock.now()
    channels = [c for c, transport in ((EMAIL, mailer), (SMS, sms)) if transport is not None]
    rows = claim(db, at, channels=channels, limit=limit, lease=lease)
    report = FlushReport()
    emails = [r for r in rows if r.channel == EMAIL]
    texts = [r for r in rows if r.channel == SMS]
    if emails and mailer is not None:
        _send_emails(db, mailer, emails, report, at=at, max_attempts=max_attempts, sender=sender)
    for row in texts:
        assert sms is not None
        try:
            sms.send(row.id, row.recipient, row.body)
        except PermanentFailure as exc:
            _mark_failed(db, row, str(exc), report, at=at, permanent=True, max_attempts=max_attempts)
        except Exception as exc:  # an adapter's own error is worth another try
            _mark_failed(db, row, str(exc) or type(exc).__name__, report, at=at, max_attempts=max_attempts)
        else:
            _mark_sent(db, row, report)
    return report


def _send_emails(
    db: Database,
    mailer: Mailer,
    rows: list[Claimed],
    report: FlushReport,
    *,
    at: datetime,
    max_attempts: int,
    sender: str,
) -> None:
    pending = list(rows)
    try:
        with mailer.connection() as send:
            while pending:
                row = pending[0]
                try:
                    send(email_message(row, sender))
                except PermanentFailure as exc:
                    pending.pop(0)
                    _mark_failed(db, row, str(exc), report, at=at, permanent=True, max_attempts=max_attempts)
                    continue
                except TransientFailure as exc:
                    pending.pop(0)
                    _mark_failed(db, row, str(exc), report, at=at, max_attempts=max_attempts)
                    continue
                pending.pop(0)
                _mark_sent(db, row, report)
    except TransientFailure as exc:
        # The connection failed (or broke): every row not yet sent waits for its back-off.
        for row in pending:
            _mark_failed(db, row, str(exc), report, at=at, max_attempts=max_attempts)


def email_message(row: Claimed, sender: str) -> EmailMessage:
    domain = sender.rsplit("@", 1)[-1].strip(" >") or "localhost"
    message = EmailMessage()
    message["From"] = sender
    message["To"] = row.recipient
    message["Subject"] = row.subject
    # Stable per notification: a re-send after a crash carries the same id, so it can be de-duplicated.
    message["Message-ID"] = f"<kalem-{row.id}@{domain}>"
    message["Date"] = format_datetime(clock.now())
    # Quoted-printable keeps Turkish letters intact through any relay, 8BITMIME or not.
    message.set_content(row.body, cte="quoted-printable")
    return message


def _mark_sent(db: Database, row: Claimed, report: FlushReport) -> None:
    with transaction(db) as session:
        result = session.execute(
            update(Notification)
            .where(Notification.id == row.id, Notification.status == SENDING, Notification.next_attempt_at == row.lease)
            .values(status=SENT, sent_at=clock.now(), last_error=None)
            .execution_options(synchronize_session=False)
        )
    (report.sent if result.rowcount == 1 else report.lost_lease).append(row.id)  # type: ignore[attr-defined]


def _mark_failed(
    db: Database,
    row: Claimed,
    error: str,
    report: FlushReport,
    *,
    at: datetime,
    max_attempts: int,
    permanent: bool = False,
) -> None:
    give_up = permanent or row.attempts >= max_attempts
    values: dict[str, Any] = {"last_error": error[:2000]}
    if give_up:
        values |= {"status": FAILED}
    else:
        values |= {"status": PENDING, "next_attempt_at": at + backoff(row.attempts)}
    with transaction(db) as session:
        result = session.execute(
            update(Notification)
            .where(Notification.id == row.id, Notification.status == SENDING, Notification.next_attempt_at == row.lease)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        report.lost_lease.append(row.id)
        return
    if give_up:
        logger.warning("notification %s failed for good: %s", row.id, error)
        report.failed.append(row.id)
    else:
        report.retried.append(row.id)


def requeue_failed(session: Session, actor: Actor, ids: Sequence[int]) -> int:
    """An administrator sends failed notifications again (after fixing an address, say)."""
    if not actor.is_admin:
        raise NotAllowed(_("Başarısız bildirimleri yalnız sistem yöneticisi yeniden kuyruğa alabilir."))
    result = session.execute(
        update(Notification)
        .where(Notification.id.in_(list(ids)), Notification.status == FAILED)
        .values(status=PENDING, attempts=0, next_attempt_at=clock.now())
        .execution_options(synchronize_session=False)
    )
    count = int(result.rowcount)  # type: ignore[attr-defined]
    audit.append(session, actor, "notification.requeued", details={"ids": sorted(ids), "count": count})
    return count


def counts(session: Session) -> dict[str, int]:
    """Rows per status (for the admin page and the health check)."""
    rows = session.execute(select(Notification.status, func.count()).group_by(Notification.status))
    return {str(status): int(n) for status, n in rows}


# --- daily digest ----------------------------------------------------------------------------------

DIGEST_USER_BATCH = 200
DIGEST_LIST_LIMIT = 20


@dataclass
class DigestReport:
    sent: list[str] = field(default_factory=list)
    skipped: int = 0


def send_daily_digest(db: Database, at: datetime | None = None, *, batch: int = DIGEST_USER_BATCH) -> DigestReport:
    """One e-mail per person with work due today ("Bugün süresi dolan 3 işiniz var"), on business
    days; each user at most once per day, however often or wherever the job runs."""
    at = at or clock.now()
    cal = calendar.default_calendar()
    day = clock.as_utc(at).astimezone(cal.zone).date()
    report = DigestReport()
    if not cal.is_business_day(day):
        return report
    start = datetime.combine(day, time(0, 0), cal.zone)
    end = start + timedelta(days=1)
    last_id = 0
    with clock.frozen_at(at):
        while True:
            with transaction(db) as session:
                users = list(
                    session.scalars(
                        select(User).where(User.id > last_id, User.is_active.is_(True)).order_by(User.id).limit(batch)
                    )
                )
                if not users:
                    break
                last_id = users[-1].id
                for user in users:
                    if _digest_one(session, user, day, start, end):
                        report.sent.append(user.username)
                    else:
                        report.skipped += 1
    return report


def _digest_one(session: Session, user: User, day: date, start: datetime, end: datetime) -> bool:
    if session.get(DigestSent, (user.username, day)) is not None:
        return False
    prefs = preferences(session, user.username)
    today = overdue = 0
    first: list[HumanTask] = []
    if prefs.digest and prefs.email and user.email:
        audiences = inbox_entries.audiences_for(session, people.actor_for(session, user.username))
        today = _due_task_count(session, audiences, start, end)
        overdue = _due_task_count(session, audiences, None, start)
        first = _first_due_tasks(session, audiences, start, end)
    try:
        with session.begin_nested():
            session.add(DigestSent(username=user.username, day=day, task_count=today, created_at=clock.now()))
            session.flush()
    except IntegrityError:
        return False  # another scheduler wrote it first
    if not today:
        return False
    lines = "\n".join(
        f"- {t.name} ({t.business_key or t.process_key}), son tarih {local_text(t.due_at)}" for t in first
    )
    if today > len(first):
        lines += f"\n… ve {today - len(first)} iş daha"
    values = {
        "today": today,
        "day": day.strftime("%d.%m.%Y"),
        "overdue_line": f" Ayrıca süresi geçmiş {overdue} işiniz var." if overdue else "",
        "lines": lines,
    }
    return bool(notify_user(session, user, "digest", values, prefs=Preferences(email=True, sms=False)))


def _inbox_query(audiences: Mapping[str, frozenset[str]], lower: datetime | None, upper: datetime) -> Any:
    """Inbox entries of the audiences due before ``upper`` (and from ``lower``); index range scans."""
    conditions = []
    for audience, scope in audiences.items():
        condition = InboxEntry.audience == audience
        if scope:
            condition = condition & InboxEntry.process_key.in_(sorted(scope))
        conditions.append(condition)
    query = select(InboxEntry.task_id, InboxEntry.due_sort).where(or_(*conditions), InboxEntry.due_sort < upper)
    if lower is not None:
        query = query.where(InboxEntry.due_sort >= lower)
    return query


def _first_due_tasks(
    session: Session, audiences: Mapping[str, frozenset[str]], lower: datetime, upper: datetime
) -> list[HumanTask]:
    if not audiences:
        return []
    sub = _inbox_query(audiences, lower, upper).distinct().subquery()
    ids = list(session.scalars(select(sub.c.task_id).order_by(sub.c.due_sort, sub.c.task_id).limit(DIGEST_LIST_LIMIT)))
    tasks = {t.id: t for t in session.scalars(select(HumanTask).where(HumanTask.id.in_(ids)))}
    return [tasks[i] for i in ids if i in tasks]


def _due_task_count(
    session: Session, audiences: Mapping[str, frozenset[str]], lower: datetime | None, upper: datetime
) -> int:
    if not audiences:
        return 0
    sub = _inbox_query(audiences, lower, upper).with_only_columns(InboxEntry.task_id).distinct().subquery()
    return int(session.scalar(select(func.count()).select_from(sub)) or 0)
