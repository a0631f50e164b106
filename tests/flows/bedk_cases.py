"""F4 bilgi edinme cases driven through the real flow to every outcome the annual BEDK report counts,
for the report's tests (engine, ``kalem report bedk`` and ``/stats/bedk``).

``build(db)`` makes the cases below, in date order, and returns their instance ids by letter. The counts
they must give are ``EXPECTED_2026`` (report taken on ``REPORT_AT``, after the year) and ``EXPECTED_2025``.

=====  ===========  ==========================================================  ======================
case   applied      path                                                        2026 report line
=====  ===========  ==========================================================  ======================
A      2026-05-15   havale → hazırlık → karar olumlu → gönderim                 granted
B      2026-05-15   ayrı çalışma → olumsuz (m.21, m.9) → Kurul: erişim          refused; objection
C      2026-05-15   görüş talebi → olumsuz (m.27) → Kurul: itiraz reddedildi    refused; objection
D      2026-05-15   ayrı çalışma → kısmen olumlu (m.23) → Kurul: kısmen erişim  partial; objection
E      2026-05-15   ayrı çalışma → kısmen olumlu (m.23, m.21), no Kurul         partial
                    decision in the objection window (closed by the timer)
F      2026-05-15   kapsam: başka kurum → karar → gönderildi (m.10)             referred
G      2026-05-15   şekil eksik → işleme konulmadı                              not processed
H      2026-05-15   havale → olumlu with a fee → not paid in 15 business days   withdrawn
I      2026-05-15   yayımlanmış → yayım yeri bildirildi (m.8)                   published
W      2026-05-15   havale → the applicant withdraws (basvuru_geri_cekildi)     withdrawn by applicant
J      2026-05-15   registered, screened, waits for Kapsam incelemesi           pending
R      2026-05-15   havale → karar olumlu, the answer not sent yet              pending
S      2026-05-15   ayrı çalışma → olumsuz (m.25), closed by the timer as E     refused
K      2026-12-30   şekil eksik, decided on 2027-01-04                          pending (at year end)
L      2026-12-28   yayımlanmış, answer sent on 2027-01-06                      pending (at year end)
M      (2026-11-02) started, not registered yet                                 pending
N      2026-11-10   registered, then terminated                                 left out (terminated)
P      2025-12-22   şekil eksik in 2025                                         (2025: not processed)
Q      2025-12-30   started 2026-01-02, back-dated application, open            (2025: pending)
=====  ===========  ==========================================================  ======================
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from factories import act, deploy_flow, open_tasks

from engine import clock, instances, messages, tasks, timers
from flows.test_bilgi_edinme import HAVALE, KAYIT, KEY, REMEDIES, at

MAY = date(2026, 5, 15)
REPORT_AT = at(date(2027, 2, 10))
APPLICANT = KAYIT["basvuran_ad_soyad"]

EXPECTED_2026 = {
    "applications": 16,
    "outcomes": {
        "granted": 1,
        "partially_granted": 2,
        "refused": 3,
        "published": 1,
        "referred": 1,
        "not_processed": 1,
        "withdrawn": 1,
        "withdrawn_by_applicant": 1,
        "other": 0,
        "pending": 5,
    },
    "refused_articles": {"m9": 1, "m21": 1, "m25": 1, "m27": 1},
    "partial_articles": {"m21": 1, "m23": 2},
    "objections": {
        "objections": 3,
        "objection_granted": 1,
        "objection_partially_granted": 1,
        "objection_rejected": 1,
        "objection_other": 0,
    },
    "terminated": 1,
}
EXPECTED_2025 = {"applications": 2, "not_processed": 1, "pending": 1}


def task_id(db, instance_id: int, username: str, bpmn_id: str) -> int:
    found = [t["id"] for t in open_tasks(db, username) if (t["instance_id"], t["bpmn_id"]) == (instance_id, bpmn_id)]
    assert len(found) == 1, f"expected one {bpmn_id} of case {instance_id} for {username}, got {found}"
    return found[0]


def step(db, instance_id: int, username: str, bpmn_id: str, data: dict[str, Any], when: datetime) -> None:
    with clock.frozen_at(when):
        tid = task_id(db, instance_id, username, bpmn_id)
        act(db, username, lambda s, a: tasks.complete(s, a, tid, data))


def started(db, business_key: str, when: datetime) -> int:
    with clock.frozen_at(when):
        return act(db, "hi1", lambda s, a: instances.start(s, a, KEY, business_key=business_key).id)


def registered(db, business_key: str, applied: date, *, opened: datetime | None = None) -> int:
    opened = opened or at(applied, 9)
    instance_id = started(db, business_key, opened)
    kayit = {**KAYIT, "basvuru_tarihi": applied.isoformat()}
    step(db, instance_id, "hi1", "Task_kayit", kayit, opened + timedelta(minutes=30))
    return instance_id


def screened(db, business_key: str, applied: date, scope: str | None = None, note: str = "Açıklama.") -> int:
    """Registered and found complete; with ``scope``, the Kapsam incelemesi is done too."""
    instance_id = registered(db, business_key, applied)
    step(db, instance_id, "hi1", "Task_sekil", {"sekil_uygun": True}, at(applied, 11))
    if scope is not None:
        data = {"kapsam_sonucu": scope} if scope == "kapsamda" else {"kapsam_sonucu": scope, "kapsam_aciklamasi": note}
        step(db, instance_id, "hi2", "Task_kapsam", data, at(applied, 12))
    return instance_id


def not_processed(db, business_key: str, applied: date, decided: datetime) -> int:
    instance_id = registered(db, business_key, applied)
    step(db, instance_id, "hi1", "Task_sekil", {"sekil_uygun": False, "eksik_unsurlar": ["imza"]}, decided)
    return instance_id


def prepared(db, business_key: str) -> int:
    """Through havale, the (declined) extension and the directorate's preparation, up to Karar ver."""
    instance_id = screened(db, business_key, MAY, "kapsamda")
    step(db, instance_id, "ok.sef", "Task_havale", HAVALE, at(MAY, 16))
    step(db, instance_id, "ok.mudur", "Task_uzatma", {"uzatma": False}, at(date(2026, 5, 18)))
    ready = {"hazirlama_sonucu": "verilebilir", "hazirlanan_bilgi": "Sözleşme bedelleri.", "sayfa_sayisi": 3}
    step(db, instance_id, "fenisleri.memur", "Task_hazirla", ready, at(date(2026, 5, 20)))
    step(db, instance_id, "fenisleri.mudur", "Task_birim_onay", {"birim_onayi": "onaylandi"}, at(date(2026, 5, 20)))
    return instance_id


def decided(db, instance_id: int, decision: dict[str, Any], when: datetime) -> None:
    step(db, instance_id, "ok.mudur", "Task_karar", decision, when)


def sent(db, instance_id: int, when: datetime) -> None:
    answer = {"gonderim_tarihi": f"{when:%Y-%m-%dT%H:%M}", "gonderim_kanali": "e_posta"}
    step(db, instance_id, "hi1", "Task_gonderim", answer, when + timedelta(minutes=5))


def refusal(articles: list[str], *, partial: bool = False) -> dict[str, Any]:
    decision = {
        "sonuc": "kismen_olumlu" if partial else "olumsuz",
        "ret_dayanagi": articles,
        "ret_gerekcesi": "Gerekçe.",
        "basvuru_yollari": REMEDIES,
    }
    return {**decision, "erisim_sekli": "e_posta", "sayfa_sayisi": 2} if partial else decision


def refused(db, business_key: str, scope: str, decision: dict[str, Any]) -> int:
    instance_id = screened(db, business_key, MAY, scope)
    decided(db, instance_id, decision, at(date(2026, 5, 21)))
    sent(db, instance_id, at(date(2026, 5, 22)))
    return instance_id


def published(db, business_key: str, applied: date, decided_on: date, sent_on: date) -> int:
    instance_id = screened(db, business_key, applied, "yayimlanmis", "Web sitesinde.")
    decided(db, instance_id, {"sonuc": "yayimlanmis", "yayim_yeri": "Belediye web sitesi."}, at(decided_on, 14))
    sent(db, instance_id, at(sent_on))
    return instance_id


def kurul(db, business_key: str, karar: str, when: datetime) -> None:
    payload = {"karar": karar, "karar_no": f"2026/{business_key}", "karar_tarihi": when.date().isoformat()}
    with clock.frozen_at(when):
        act(db, None, lambda s, a: messages.correlate(s, a, "kurul_karari", business_key, payload))


def build(db) -> dict[str, int]:
    deploy_flow(db, "bilgi_edinme")
    ids: dict[str, int] = {}
    ids["P"] = not_processed(db, "BE-P", date(2025, 12, 22), at(date(2025, 12, 22), 15))
    ids["Q"] = registered(db, "BE-Q", date(2025, 12, 30), opened=at(date(2026, 1, 2), 9))

    ids["A"] = prepared(db, "BE-A")
    decided(db, ids["A"], {"sonuc": "olumlu", "erisim_sekli": "e_posta", "sayfa_sayisi": 3}, at(date(2026, 5, 21)))
    sent(db, ids["A"], at(date(2026, 5, 22)))
    ids["B"] = refused(db, "BE-B", "ayri_calisma", refusal(["m21", "m9"]))
    ids["C"] = refused(db, "BE-C", "gorus_talebi", refusal(["m27"]))
    ids["D"] = refused(db, "BE-D", "ayri_calisma", refusal(["m23"], partial=True))
    ids["E"] = refused(db, "BE-E", "ayri_calisma", refusal(["m23", "m21"], partial=True))
    ids["S"] = refused(db, "BE-S", "ayri_calisma", refusal(["m25"]))
    ids["F"] = screened(db, "BE-F", MAY, "baska_kurum", "SGK kayıtları.")
    decided(db, ids["F"], {"sonuc": "baska_kuruma"}, at(MAY, 14))
    forward = {"yetkili_kurum": "SGK", "sevk_tarihi": "2026-05-18", "sevk_bildirim_metni": "Gönderildi."}
    step(db, ids["F"], "hi2", "Task_baska_kuruma", forward, at(date(2026, 5, 18)))
    ids["G"] = not_processed(db, "BE-G", MAY, at(MAY, 11))
    ids["H"] = prepared(db, "BE-H")
    fee = {"sonuc": "olumlu", "erisim_sekli": "posta", "sayfa_sayisi": 40, "ucret_tutari": "15.00"}
    decided(db, ids["H"], fee, at(date(2026, 5, 22)))
    notice = {"ucret_bildirim_tarihi": "2026-05-25", "ucret_bildirim_kanali": "e_posta", "odeme_bilgisi": "Vezne."}
    step(db, ids["H"], "hi1", "Task_ucret_bildirimi", notice, at(date(2026, 5, 25), 11))
    ids["I"] = published(db, "BE-I", MAY, MAY, date(2026, 5, 18))
    ids["W"] = screened(db, "BE-W", MAY, "kapsamda")
    step(db, ids["W"], "ok.sef", "Task_havale", HAVALE, at(MAY, 16))
    withdrawal = {"tarih": "2026-05-19", "kanal": "e_posta", "aciklama": "Bilgiye ihtiyacım kalmadı."}
    with clock.frozen_at(at(date(2026, 5, 19), 10)):
        act(db, "hi2", lambda s, a: messages.correlate(s, a, "basvuru_geri_cekildi", "BE-W", withdrawal))
    confirmed = {"geri_cekme_tarihi": "2026-05-19", "geri_cekme_kanali": "e_posta"}
    step(db, ids["W"], "hi1", "Task_geri_cekme", confirmed, at(date(2026, 5, 19), 11))
    ids["J"] = screened(db, "BE-J", MAY)
    ids["R"] = prepared(db, "BE-R")
    decided(db, ids["R"], {"sonuc": "olumlu", "erisim_sekli": "e_posta", "sayfa_sayisi": 3}, at(date(2026, 5, 21)))

    # 15 business days after the fee notice of 25 May: Thu 18 June (H is deemed withdrawn).
    assert timers.fire_due(db, at(date(2026, 6, 18), 17, 31)).fired_instances == [ids["H"]]
    kurul(db, "BE-B", "erisim_verilsin", at(date(2026, 7, 6)))
    kurul(db, "BE-C", "itiraz_reddedildi", at(date(2026, 7, 6)))
    kurul(db, "BE-D", "kismen_erisim_verilsin", at(date(2026, 7, 6)))
    # 15 days to object after the answer of 22 May, then 40 business days: the follow-up ends in August.
    assert set(timers.fire_due(db, at(date(2026, 8, 10))).fired_instances) == {ids["E"], ids["S"]}

    ids["M"] = started(db, "BE-M", at(date(2026, 11, 2)))
    ids["N"] = registered(db, "BE-N", date(2026, 11, 10))
    with clock.frozen_at(at(date(2026, 11, 11))):
        act(db, "admin", lambda s, a: instances.terminate(s, a, ids["N"], reason="Mükerrer kayıt"))
    ids["L"] = published(db, "BE-L", date(2026, 12, 28), date(2026, 12, 30), date(2027, 1, 6))
    ids["K"] = not_processed(db, "BE-K", date(2026, 12, 30), at(date(2027, 1, 4)))
    return ids
