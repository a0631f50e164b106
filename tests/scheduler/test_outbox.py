"""The outbox against a real SMTP server on 127.0.0.1 (aiosmtpd): Turkish mail sent once, retries
with exponential back-off, nothing lost when the server is down or a sender dies, permanent
refusals kept as failed, SMS through the file adapter, concurrent senders on PostgreSQL."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from factories import act, read
from sqlalchemy import func, select

from engine import clock, outbox
from engine.errors import NotAllowed
from engine.models import Notification
from scheduler.support import free_port, ist

T0 = ist("2026-06-01 09:00")
SENDER = "Kalem <kalem@belediye.local>"


def enqueue(db, n: int = 1, *, channel: str = "email", to: str = "memur{i}@belediye.local") -> list[int]:
    def add(session, _actor):
        rows = [
            outbox.enqueue(
                session, channel, to.format(i=i), f"Süresi geçti: 'Başvuru {i}'", f"Sayın memur,\nİş {i} gecikti."
            )
            for i in range(n)
        ]
        session.flush()
        return [r.id for r in rows]

    with clock.frozen_at(T0):
        return act(db, None, add)


def row(db, notification_id: int) -> Notification:
    return read(db, lambda s: s.get(Notification, notification_id))


def flush(db, mailer, at=T0, **kwargs) -> outbox.FlushReport:
    return outbox.flush(db, mailer=mailer, at=at, sender=SENDER, **kwargs)


def test_turkish_mail_is_sent_once_with_a_stable_message_id(db, smtp_server):
    server, mailer = smtp_server
    ids = enqueue(db, 3)
    report = flush(db, mailer)
    assert sorted(report.sent) == ids
    assert sorted(server.ids()) == sorted(f"<kalem-{i}@belediye.local>" for i in ids)
    message = next(m for m in server.messages if m["Message-ID"] == f"<kalem-{ids[0]}@belediye.local>")
    assert message["Subject"] == "Süresi geçti: 'Başvuru 0'"
    assert message.get_content().replace("\r\n", "\n").strip() == "Sayın memur,\nİş 0 gecikti."
    assert message["To"] == "memur0@belediye.local"
    assert all(row(db, i).status == "sent" and row(db, i).sent_at == T0 for i in ids)
    # A second flush, now or later, sends nothing again.
    assert flush(db, mailer).sent == [] and flush(db, mailer, T0 + timedelta(days=1)).sent == []
    assert len(server.messages) == 3


def test_a_temporary_refusal_is_retried_with_exponential_back_off(db, smtp_server):
    server, mailer = smtp_server
    [nid] = enqueue(db)
    server.fail_next = 2
    assert flush(db, mailer).retried == [nid]
    first = row(db, nid)
    assert (first.status, first.attempts, first.next_attempt_at) == ("pending", 1, T0 + timedelta(minutes=1))
    assert "451" in first.last_error
    assert flush(db, mailer, T0 + timedelta(seconds=59)).retried == []  # not due yet
    assert flush(db, mailer, T0 + timedelta(minutes=1)).retried == [nid]
    assert row(db, nid).next_attempt_at == T0 + timedelta(minutes=3)  # 1 + 2 minutes
    assert flush(db, mailer, T0 + timedelta(minutes=3)).sent == [nid]
    assert len(server.messages) == 1 and row(db, nid).attempts == 3


def test_server_down_loses_nothing(db, smtp_server):
    server, mailer = smtp_server
    ids = enqueue(db, 2)
    down = outbox.SmtpMailer(outbox.SmtpConfig(host="127.0.0.1", port=free_port(), timeout=2))
    assert sorted(flush(db, down).retried) == ids
    assert all(row(db, i).status == "pending" and "bağlanılamadı" in row(db, i).last_error for i in ids)
    assert sorted(flush(db, mailer, T0 + timedelta(minutes=1)).sent) == ids
    assert len(server.messages) == 2


def test_back_off_doubles_up_to_six_hours():
    assert [outbox.backoff(n) for n in (1, 2, 3, 4)] == [timedelta(minutes=m) for m in (1, 2, 4, 8)]
    assert outbox.backoff(30) == timedelta(hours=6)


def test_a_permanent_refusal_is_kept_as_failed_and_can_be_requeued(db, smtp_server):
    server, mailer = smtp_server
    [bad] = enqueue(db, to="yok@belediye.local")
    [good] = enqueue(db, to="var@belediye.local")
    server.reject.add("yok@belediye.local")
    report = flush(db, mailer)
    assert report.failed == [bad] and report.sent == [good]
    assert row(db, bad).status == "failed" and "550" in row(db, bad).last_error
    with pytest.raises(NotAllowed):
        act(db, "idari1", lambda s, a: outbox.requeue_failed(s, a, [bad]))
    server.reject.clear()
    with clock.frozen_at(T0 + timedelta(hours=1)):
        assert act(db, "admin", lambda s, a: outbox.requeue_failed(s, a, [bad])) == 1
    assert flush(db, mailer, T0 + timedelta(hours=1)).sent == [bad]
    assert read(db, outbox.counts) == {"sent": 2}


def test_too_many_attempts_end_as_failed(db, smtp_server):
    server, mailer = smtp_server
    [nid] = enqueue(db)
    server.fail_next = 5
    at = T0
    for _ in range(3):
        flush(db, mailer, at, max_attempts=3)
        at += timedelta(hours=7)
    assert row(db, nid).status == "failed" and row(db, nid).attempts == 3
    assert flush(db, mailer, at + timedelta(days=1)).sent == []
    assert server.messages == []


def test_a_sender_that_died_after_claiming_is_replaced_after_its_lease(db, smtp_server):
    server, mailer = smtp_server
    [nid] = enqueue(db)
    [dead] = outbox.claim(db, T0, channels=["email"])  # claimed, then the process died
    assert row(db, nid).status == "sending"
    assert flush(db, mailer, T0 + timedelta(minutes=4)).sent == []  # lease still running
    assert flush(db, mailer, T0 + timedelta(minutes=5)).sent == [nid]
    assert server.ids() == [f"<kalem-{nid}@belediye.local>"]
    # Had the first sender come back late, its mark would not count twice.
    late = outbox.FlushReport()
    outbox._mark_sent(db, dead, late)
    assert late.lost_lease == [nid] and row(db, nid).attempts == 2


def test_without_a_transport_rows_wait(db, smtp_server):
    _server, mailer = smtp_server
    [nid] = enqueue(db, channel="sms", to="+90555000000{i}")
    assert flush(db, mailer).sent == []  # no SMS adapter configured: not claimed
    assert row(db, nid).status == "pending" and row(db, nid).attempts == 0


def test_sms_goes_through_the_file_adapter(db, tmp_path):
    [nid] = enqueue(db, channel="sms", to="+90555000000{i}")
    sms = outbox.FileSmsSender(tmp_path / "sms.jsonl")
    assert outbox.flush(db, sms=sms, at=T0).sent == [nid]
    assert outbox.flush(db, sms=sms, at=T0 + timedelta(hours=1)).sent == []
    [line] = sms.messages()
    assert line["id"] == nid and line["to"] == "+905550000000" and "İş 0 gecikti" in line["text"]


def test_templates_are_turkish_and_tolerate_missing_values():
    subject, body = outbox.render("digest", {"name": "Ali Koç", "today": 3, "day": "02.06.2026"})
    assert subject == "Bugün süresi dolan 3 işiniz var"
    assert body.startswith("Sayın Ali Koç,") and "- \n" not in body.splitlines()[0]


def test_concurrent_senders_send_each_notification_once(pg_db, smtp_server):
    server, mailer = smtp_server
    ids = enqueue(pg_db, 150)

    def sender(_: int) -> list[int]:
        sent: list[int] = []
        while True:
            report = flush(pg_db, mailer, limit=10)
            sent += report.sent
            if not (report.sent or report.retried):
                return sent

    with ThreadPoolExecutor(3) as pool:
        results = list(pool.map(sender, range(3)))
    sent = [i for r in results for i in r]
    assert sorted(sent) == ids
    assert len(server.messages) == 150 and len(set(server.ids())) == 150
    assert read(pg_db, lambda s: s.scalar(select(func.count()).where(Notification.status == "sent"))) == 150
