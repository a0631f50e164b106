"""F4 bilgi edinme başvurusu (4982), driven through the engine as the demo users.

Dates are fixed around the 2026 Kurban Bayramı: an application received on Fri 2026-05-15 has
its 15th business day on Thu 2026-06-11 and its 30th on Thu 2026-07-02 (domain guide §4.3;
19 May and 27–29 May are holidays, the arife 26 May is a business day)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from factories import act, deploy_flow, only_task, open_tasks, read
from sqlalchemy import select

from engine import audit, calendar, clock, deadlines, instances, messages, tasks, timers
from engine.errors import InvalidInput, NotFound
from engine.models import HumanTask, Notification, TaskState
from engine.models.scheduling import DeadlineStep, DeadlineWatch

KEY = "f4_bilgi_edinme"
WITHDRAWN = "basvuru_geri_cekildi"
IST = ZoneInfo("Europe/Istanbul")
RECEIVED = date(2026, 5, 15)

KAYIT = {
    "basvuru_tarihi": RECEIVED.isoformat(),
    "basvuru_kanali": "e_posta",
    "basvuran_ad_soyad": "Ayşe Yılmaz",
    "basvuran_tckn": "10000000146",
    "basvuran_eposta": "ayse@example.org",
    "basvuran_telefon": "0532 123 45 67",
    "basvuran_adres": "Atatürk Mah. 1. Sok. No: 3, Konak / İzmir",
    "konu": "Park yenileme ihalesi",
    "talep_edilen_bilgi": "2025 yılında yapılan park yenileme ihalelerinin sözleşme bedelleri.",
    "erisim_tercihi": "e_posta",
}
REMEDIES = (
    "Bu karara karşı tebliğinden itibaren 15 gün içinde Bilgi Edinme Değerlendirme Kuruluna (BEDK) itiraz "
    "edebilir veya idari yargı yoluna başvurabilirsiniz."
)


def at(day: date, hour: int = 10, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), IST)


def utc(local: str) -> str:
    """'2026-06-11T17:30' (Istanbul) as the UTC ISO text the task projection shows."""
    return datetime.fromisoformat(local).replace(tzinfo=IST).astimezone(ZoneInfo("UTC")).isoformat()


def complete(db, username: str, bpmn_id: str, data: dict[str, Any], when: datetime) -> dict[str, Any]:
    with clock.frozen_at(when):
        task = only_task(db, username, bpmn_id)
        act(db, username, lambda s, a: tasks.complete(s, a, task["id"], data))
    return task


def refused(db, username: str, bpmn_id: str, data: dict[str, Any], when: datetime) -> dict[str, list[str]]:
    with clock.frozen_at(when), pytest.raises(InvalidInput) as err:
        task = only_task(db, username, bpmn_id)
        act(db, username, lambda s, a: tasks.complete(s, a, task["id"], data))
    return err.value.field_errors


def detail(db, instance_id: int) -> dict[str, Any]:
    return act(db, None, lambda s, a: instances.show(s, a, instance_id).as_dict())


def outbox(db) -> list[Notification]:
    return read(db, lambda s: list(s.scalars(select(Notification).order_by(Notification.id))))


def register(db, business_key: str = "BE-TEST-1", **changes: Any) -> int:
    deploy_flow(db, "bilgi_edinme")
    with clock.frozen_at(at(RECEIVED, 9)):
        instance_id = act(db, "hi1", lambda s, a: instances.start(s, a, KEY, business_key=business_key).id)
    complete(db, "hi1", "Task_kayit", {**KAYIT, **changes}, at(RECEIVED, 9, 30))
    return instance_id


HAVALE = {"hedef_birim": "fen_isleri", "talimat": "gereginin_yapilmasi", "uzatma_adayi": False}


def to_havale(db, **kayit: Any) -> int:
    instance_id = register(db, **kayit)
    complete(db, "hi1", "Task_sekil", {"sekil_uygun": True}, at(RECEIVED, 11))
    complete(db, "hi2", "Task_kapsam", {"kapsam_sonucu": "kapsamda"}, at(RECEIVED, 14))
    complete(db, "ok.sef", "Task_havale", HAVALE, at(RECEIVED, 16))
    return instance_id


def prepared(db, when: datetime, result: dict[str, Any] | None = None) -> None:
    data = result or {
        "hazirlama_sonucu": "verilebilir",
        "hazirlanan_bilgi": "Sözleşme bedelleri tablosu.",
        "sayfa_sayisi": 3,
    }
    complete(db, "fenisleri.memur", "Task_hazirla", data, when)
    complete(db, "fenisleri.mudur", "Task_birim_onay", {"birim_onayi": "onaylandi"}, when)


def to_karar(db, **kayit: Any) -> int:
    instance_id = to_havale(db, **kayit)
    complete(db, "ok.mudur", "Task_uzatma", {"uzatma": False}, at(date(2026, 5, 18)))
    prepared(db, at(date(2026, 5, 20)))
    return instance_id


def test_registration_numbers_the_case_and_sets_the_15_business_day_due(db):
    instance_id = register(db)
    data = detail(db, instance_id)["data"]
    assert data["kayit_no"] == "BE-2026-000001"
    assert data["yasal_son_tarih"] == "2026-06-11T17:30:00+03:00"
    assert data["yasal_son_tarih"] == calendar.default_calendar().legal_deadline("4982", RECEIVED).isoformat()
    assert data["sari_uyari_alicisi"] and data["kirmizi_uyari_alicisi"]
    task = only_task(db, "hi2", "Task_sekil")
    assert task["candidate_groups"] == ["bilgi_edinme_birimi"]
    assert task["due_at"] == utc("2026-05-18T17:30")


def test_registration_refuses_a_future_date_and_an_e_mail_application_without_tckn(db):
    deploy_flow(db, "bilgi_edinme")
    act(db, "hi1", lambda s, a: instances.start(s, a, KEY, business_key="BE-TEST-9"))
    errors = refused(db, "hi1", "Task_kayit", {**KAYIT, "basvuru_tarihi": "2099-01-01"}, clock.now())
    assert "basvuru_tarihi" in errors
    without_tckn = {k: v for k, v in KAYIT.items() if k != "basvuran_tckn"}
    errors = refused(db, "hi1", "Task_kayit", without_tckn, clock.now())
    assert list(errors) == ["basvuran_tckn"]
    complete(db, "hi1", "Task_kayit", {**without_tckn, "basvuru_kanali": "dilekce_elden"}, clock.now())
    assert only_task(db, "hi1", "Task_sekil")


def test_happy_path_olumlu(db):
    instance_id = to_havale(db)
    assert only_task(db, "ok.mudur", "Task_uzatma")["due_at"] == utc("2026-06-11T17:30")
    hazirla = only_task(db, "fenisleri.memur", "Task_hazirla")
    assert hazirla["candidate_groups"] == ["fen_isleri"]
    assert hazirla["due_at"] == utc("2026-06-08T17:30")  # legal due − 3 calendar days (sure_hesapla)
    complete(db, "ok.mudur", "Task_uzatma", {"uzatma": False}, at(date(2026, 5, 18)))
    prepared(db, at(date(2026, 5, 20)))
    karar = only_task(db, "ok.mudur", "Task_karar")
    assert karar["due_at"] == utc("2026-06-11T17:30")
    complete(
        db,
        "ok.mudur",
        "Task_karar",
        {"sonuc": "olumlu", "erisim_sekli": "e_posta", "sayfa_sayisi": 3},
        at(date(2026, 5, 21)),
    )
    complete(
        db,
        "hi1",
        "Task_gonderim",
        {"gonderim_tarihi": "2026-05-22T11:00", "gonderim_kanali": "e_posta", "cevap_sayisi": "E-12345678-604-42"},
        at(date(2026, 5, 22), 11, 5),
    )
    shown = detail(db, instance_id)
    assert shown["status"] == "completed"
    data = shown["data"]
    assert data["sonuc"] == "olumlu" and data["karar_sonucu"] == "olumlu"
    assert data["sure_icinde"] is True and data["uzatildi"] is False
    assert data["arsiv"]["sdp_kodu"] == "604" and data["arsiv"]["saklama_yil"] == 5
    assert data["arsiv"]["sonuc"] == "olumlu" and data["arsiv"]["kayit_no"] == "BE-2026-000001"
    assert outbox(db) == []  # nothing but the answer itself, which the clerk sent


def test_refusal_needs_article_and_remedies_then_bedk_orders_access(db):
    instance_id = to_karar(db)
    when = at(date(2026, 5, 21))
    decision = {
        "sonuc": "olumsuz",
        "ret_gerekcesi": "Üçüncü kişilerin kişisel verilerini içeriyor.",
        "basvuru_yollari": REMEDIES,
    }
    assert "ret_dayanagi" in refused(db, "ok.mudur", "Task_karar", decision, when)
    errors = refused(
        db,
        "ok.mudur",
        "Task_karar",
        {**decision, "ret_dayanagi": ["m21"], "basvuru_yollari": "İtiraz edebilirsiniz."},
        when,
    )
    assert list(errors) == ["basvuru_yollari"]
    no_court = "Kararın tebliğinden itibaren 15 gün içinde BEDK'ya itiraz edebilirsiniz."
    assert "basvuru_yollari" in refused(
        db, "ok.mudur", "Task_karar", {**decision, "ret_dayanagi": ["m21"], "basvuru_yollari": no_court}, when
    )
    complete(db, "ok.mudur", "Task_karar", {**decision, "ret_dayanagi": ["m21", "m9"]}, when)
    complete(
        db,
        "hi1",
        "Task_gonderim",
        {"gonderim_tarihi": "2026-05-22T10:00", "gonderim_kanali": "e_posta"},
        at(date(2026, 5, 22), 11),
    )
    shown = detail(db, instance_id)
    assert shown["status"] == "running" and shown["data"]["sonuc"] == "olumsuz"
    assert {w["name"] for w in shown["waiting"] if w["type"] == "message"} == {"kurul_karari"}
    payload = {"karar": "erisim_verilsin", "karar_no": "2026/1234", "karar_tarihi": "2026-07-01"}
    with clock.frozen_at(at(date(2026, 7, 6))):
        act(db, None, lambda s, a: messages.correlate(s, a, "kurul_karari", "BE-TEST-1", payload))
    erisim = only_task(db, "hi2", "Task_kurul_erisim")
    assert erisim["priority"] == 90
    assert erisim["due_at"] == utc("2026-07-21T17:30")  # 10 business days after Mon 6 July (15 July is a holiday)
    complete(
        db,
        "hi2",
        "Task_kurul_erisim",
        {"kurul_erisim_tarihi": "2026-07-08T09:00", "kurul_erisim_sekli": "e_posta"},
        at(date(2026, 7, 8)),
    )
    data = detail(db, instance_id)["data"]
    assert detail(db, instance_id)["status"] == "completed"
    assert data["sonuc"] == "olumsuz" and data["ret_dayanagi"] == ["m9", "m21"]  # in the order of the article list
    assert data["itiraz_sonucu"] == "erisim_verilsin" and data["ivedilik"] == "acele"
    assert data["kurul_karari"]["karar_no"] == "2026/1234"
    assert data["arsiv"]["saklama_yil"] == 10


def test_partial_grant_with_a_correction_loop_closes_after_the_objection_window(db):
    instance_id = to_havale(db)
    complete(db, "ok.mudur", "Task_uzatma", {"uzatma": False}, at(date(2026, 5, 18)))
    partial = {
        "hazirlama_sonucu": "kismen_verilebilir",
        "hazirlanan_bilgi": "Sözleşme bedelleri; yüklenici ortaklık bilgileri çıkarıldı.",
        "sayfa_sayisi": 2,
        "karartma_yapildi": True,
        "onerilen_ret_dayanagi": ["m23"],
        "birim_gerekcesi": "Yüklenici teklif ayrıntıları ticari sırdır.",
    }
    complete(db, "fenisleri.memur", "Task_hazirla", partial, at(date(2026, 5, 19)))
    complete(
        db,
        "fenisleri.mudur",
        "Task_birim_onay",
        {"birim_onayi": "duzeltme", "birim_onay_notu": "Ekleri tamamlayın."},
        at(date(2026, 5, 20)),
    )
    complete(db, "fenisleri.memur", "Task_hazirla", partial, at(date(2026, 5, 20), 15))
    complete(db, "fenisleri.mudur", "Task_birim_onay", {"birim_onayi": "onaylandi"}, at(date(2026, 5, 21)))
    complete(
        db,
        "ok.mudur",
        "Task_karar",
        {
            "sonuc": "kismen_olumlu",
            "ret_dayanagi": ["m23"],
            "ret_gerekcesi": "Teklif ayrıntıları ticari sır niteliğindedir.",
            "basvuru_yollari": REMEDIES,
            "erisim_sekli": "e_posta",
            "sayfa_sayisi": 2,
        },
        at(date(2026, 5, 22)),
    )
    complete(
        db,
        "hi1",
        "Task_gonderim",
        {"gonderim_tarihi": "2026-05-25T10:00", "gonderim_kanali": "e_posta"},
        at(date(2026, 5, 25), 11),
    )
    shown = detail(db, instance_id)
    # 15 days to object (Tue 9 June), then 40 business days for BEDK and the post (15 July off): Wed 5 August.
    assert shown["data"]["itiraz_takip_son_tarihi"] == "2026-08-05T17:30:00+03:00"
    assert [w["fire_at"] for w in shown["waiting"] if w["type"] == "timer"] == [utc("2026-08-05T17:30")]
    assert timers.fire_due(db, at(date(2026, 8, 5), 17, 29)).fired_instances == []
    assert timers.fire_due(db, at(date(2026, 8, 5), 17, 31)).fired_instances == [instance_id]
    shown = detail(db, instance_id)
    assert shown["status"] == "completed"
    assert shown["data"]["sonuc"] == "kismen_olumlu" and shown["data"]["itiraz_sonucu"] == "kurul_karari_gelmedi"
    assert shown["data"]["arsiv"]["saklama_yil"] == 10


def test_extension_within_15_business_days_moves_the_due_to_the_30th_business_day(db):
    cal = calendar.default_calendar()
    # By hand from the holiday list: 15th business day Thu 11 June, 30th Thu 2 July.
    assert cal.add_business_days(RECEIVED, 15) == date(2026, 6, 11)
    assert cal.add_business_days(RECEIVED, 30) == date(2026, 7, 2)
    instance_id = to_havale(db)
    extension = {
        "uzatma": True,
        "uzatma_gerekcesi": "baska_kurum_gorusu",
        "uzatma_bildirim_metni": "Bilgi, İzmir Büyükşehir Belediyesinin görüşü alınarak verilecektir.",
        "uzatma_bildirim_tarihi": "2026-06-01T10:00",
        "uzatma_bildirim_kanali": "e_posta",
    }
    assert "uzatma_gerekcesi" in refused(db, "ok.mudur", "Task_uzatma", {"uzatma": True}, at(date(2026, 6, 1)))
    complete(db, "ok.mudur", "Task_uzatma", extension, at(date(2026, 6, 1), 10, 30))
    # The directorate finishes last: its branch carries the old due, which must not win at the join.
    prepared(db, at(date(2026, 6, 15)))
    data = detail(db, instance_id)["data"]
    assert data["uzatildi"] is True and data["kanun"] == "4982-uzatma"
    assert data["yasal_son_tarih"] == "2026-07-02T17:30:00+03:00"
    assert data["yasal_son_tarih"] == cal.legal_deadline("4982-uzatma", RECEIVED).isoformat()
    assert only_task(db, "ok.mudur", "Task_karar")["due_at"] == utc("2026-07-02T17:30")
    [notice] = outbox(db)
    assert notice.recipient == "ayse@example.org" and notice.channel == "email"
    assert "2026-07-02" in notice.body and "süre uzatımı" in notice.subject
    assert data["bildirimler"][0]["kanal"] == "e_posta"


def test_no_extension_after_the_15th_business_day_and_warnings_on_days_12_and_14(db):
    instance_id = to_havale(db)
    recipients = detail(db, instance_id)["data"]
    assert timers.fire_due(db, at(date(2026, 6, 8), 17, 29)).fired_instances == []
    assert timers.fire_due(db, at(date(2026, 6, 8), 17, 31)).fired_instances == [instance_id]
    assert [n.recipient for n in outbox(db)] == [recipients["sari_uyari_alicisi"]]
    assert timers.fire_due(db, at(date(2026, 6, 10), 17, 31)).fired_instances == [instance_id]
    assert [n.recipient for n in outbox(db)][-1] == recipients["kirmizi_uyari_alicisi"]
    assert "ACELE" in outbox(db)[-1].subject
    assert only_task(db, "ok.mudur", "Task_uzatma")  # warnings do not decide for anyone
    late = {
        "uzatma": True,
        "uzatma_gerekcesi": "baska_birimden_saglanacak",
        "uzatma_bildirim_metni": "Süre uzatılmıştır.",
        "uzatma_bildirim_tarihi": "2026-06-11T17:45",
        "uzatma_bildirim_kanali": "e_posta",
    }
    assert "uzatma" in refused(db, "ok.mudur", "Task_uzatma", late, at(date(2026, 6, 11), 17, 50))
    assert timers.fire_due(db, at(date(2026, 6, 11), 17, 31)).fired_instances == [instance_id]
    assert not [t for t in open_tasks(db, "ok.mudur") if t["bpmn_id"] == "Task_uzatma"]
    prepared(db, at(date(2026, 6, 11), 17, 40))
    data = detail(db, instance_id)["data"]
    assert data["uzatildi"] is False and data["yasal_son_tarih"] == "2026-06-11T17:30:00+03:00"
    assert only_task(db, "ok.mudur", "Task_karar")["due_at"] == utc("2026-06-11T17:30")


def fee_notified(db) -> int:
    instance_id = to_karar(db)
    complete(
        db,
        "ok.mudur",
        "Task_karar",
        {"sonuc": "olumlu", "erisim_sekli": "posta", "sayfa_sayisi": 40, "ucret_tutari": "15.00"},
        at(date(2026, 5, 22)),
    )
    complete(
        db,
        "hi1",
        "Task_ucret_bildirimi",
        {
            "ucret_bildirim_tarihi": "2026-05-25",
            "ucret_bildirim_kanali": "e_posta",
            "odeme_bilgisi": "Vezne veya belediye hesabı.",
        },
        at(date(2026, 5, 25), 11),
    )
    return instance_id


def test_unpaid_fee_is_deemed_withdrawn_after_15_business_days(db):
    instance_id = fee_notified(db)
    shown = detail(db, instance_id)
    # 15 business days after Mon 25 May (27–29 May off): Thu 18 June.
    assert shown["data"]["odeme_son_tarihi"] == "2026-06-18T17:30:00+03:00"
    # While the payment is awaited the applicant may still withdraw the application.
    assert {w["name"] for w in shown["waiting"] if w["type"] == "message"} == {"ucret_odendi", WITHDRAWN}
    assert [w["fire_at"] for w in shown["waiting"] if w["type"] == "timer"] == [utc("2026-06-18T17:30")]
    assert "15.00 TL" in outbox(db)[-1].body
    assert timers.fire_due(db, at(date(2026, 6, 18), 17, 29)).fired_instances == []
    assert timers.fire_due(db, at(date(2026, 6, 18), 17, 31)).fired_instances == [instance_id]
    shown = detail(db, instance_id)
    assert shown["status"] == "completed" and shown["data"]["sonuc"] == "vazgecilmis_sayildi"
    assert "vazgeçilmiş" in outbox(db)[-1].subject
    with pytest.raises(NotFound):
        act(
            db, None, lambda s, a: messages.correlate(s, a, "ucret_odendi", "BE-TEST-1", {"odeme_tarihi": "2026-06-19"})
        )


def test_paid_fee_resumes_the_remaining_days(db):
    instance_id = fee_notified(db)
    with clock.frozen_at(at(date(2026, 6, 3), 15)):
        act(
            db, None, lambda s, a: messages.correlate(s, a, "ucret_odendi", "BE-TEST-1", {"odeme_tarihi": "2026-06-03"})
        )
    # 5 business days ran before the notice (18, 20, 21, 22, 25 May); 10 remain from 4 June: Wed 17 June.
    expected = calendar.default_calendar().deadline_after_fee("4982", RECEIVED, date(2026, 5, 25), date(2026, 6, 3))
    assert expected.isoformat() == "2026-06-17T17:30:00+03:00"
    data = detail(db, instance_id)["data"]
    assert data["yasal_son_tarih"] == expected.isoformat()
    assert data["ucret_kesintisi"]["onceki_son_tarih"] == "2026-06-11T17:30:00+03:00"
    assert data["ucret_kesintisi"]["politika"] == "resume"
    assert only_task(db, "hi1", "Task_gonderim")["due_at"] == utc("2026-06-17T17:30")
    complete(
        db,
        "hi1",
        "Task_gonderim",
        {"gonderim_tarihi": "2026-06-10T10:00", "gonderim_kanali": "posta"},
        at(date(2026, 6, 10), 11),
    )
    shown = detail(db, instance_id)
    assert shown["status"] == "completed" and shown["data"]["sonuc"] == "olumlu"
    assert shown["data"]["sure_icinde"] is True


def test_incomplete_application_is_not_processed_and_the_applicant_is_told(db):
    instance_id = register(db)
    assert "eksik_unsurlar" in refused(db, "hi1", "Task_sekil", {"sekil_uygun": False}, at(RECEIVED, 11))
    complete(db, "hi1", "Task_sekil", {"sekil_uygun": False, "eksik_unsurlar": ["imza", "adres"]}, at(RECEIVED, 11))
    shown = detail(db, instance_id)
    assert shown["status"] == "completed" and shown["data"]["sonuc"] == "isleme_konulmadi"
    [notice] = outbox(db)
    assert notice.recipient == "ayse@example.org" and "işleme konulmadı" in notice.subject
    assert "14 üncü maddesi" in notice.body  # the form's default notice text
    assert shown["data"]["arsiv"]["sonuc"] == "isleme_konulmadi"


def test_information_held_by_another_body_is_forwarded_and_the_applicant_told_by_sms(db):
    instance_id = register(db, basvuru_kanali="dilekce_elden", basvuran_eposta=None, erisim_tercihi="posta")
    complete(db, "hi1", "Task_sekil", {"sekil_uygun": True}, at(RECEIVED, 11))
    complete(
        db,
        "hi1",
        "Task_kapsam",
        {"kapsam_sonucu": "baska_kurum", "kapsam_aciklamasi": "SGK kayıtları."},
        at(RECEIVED, 12),
    )
    assert not [t for t in open_tasks(db, "ok.sef") if t["bpmn_id"] == "Task_havale"]
    complete(db, "ok.mudur", "Task_karar", {"sonuc": "baska_kuruma"}, at(RECEIVED, 14))
    forward = {
        "yetkili_kurum": "Sosyal Güvenlik Kurumu",
        "sevk_tarihi": "2026-05-18",
        "sevk_bildirim_metni": "Başvurunuz yetkili kuruma gönderilmiştir.",
    }
    complete(db, "hi2", "Task_baska_kuruma", forward, at(date(2026, 5, 18)))
    shown = detail(db, instance_id)
    assert shown["status"] == "completed" and shown["data"]["sonuc"] == "baska_kuruma_gonderildi"
    [notice] = outbox(db)
    assert notice.channel == "sms" and notice.recipient == "+905321234567"
    assert shown["data"]["bildirimler"] == [
        {"konu": notice.subject, "kanal": "sms", "tarih": shown["data"]["bildirimler"][0]["tarih"]}
    ]


def test_published_information_is_answered_with_where_it_was_published(db):
    instance_id = register(db)
    complete(db, "hi1", "Task_sekil", {"sekil_uygun": True}, at(RECEIVED, 11))
    complete(
        db,
        "hi1",
        "Task_kapsam",
        {"kapsam_sonucu": "yayimlanmis", "kapsam_aciklamasi": "Web sitesinde."},
        at(RECEIVED, 12),
    )
    assert "yayim_yeri" in refused(db, "ok.mudur", "Task_karar", {"sonuc": "yayimlanmis"}, at(RECEIVED, 14))
    complete(
        db,
        "ok.mudur",
        "Task_karar",
        {"sonuc": "yayimlanmis", "yayim_yeri": "Belediye web sitesi, ihaleler sayfası, 3 Mart 2026."},
        at(RECEIVED, 14),
    )
    complete(
        db,
        "hi1",
        "Task_gonderim",
        {"gonderim_tarihi": "2026-05-18T10:00", "gonderim_kanali": "e_posta"},
        at(date(2026, 5, 18), 11),
    )
    shown = detail(db, instance_id)
    assert shown["status"] == "completed"
    assert (
        shown["data"]["sonuc"] == "yayimlanmis_bilgi_yonlendirildi" and shown["data"]["karar_sonucu"] == "yayimlanmis"
    )


def test_only_the_target_directorate_sees_the_preparation_and_only_its_mudur_approves(db):
    to_havale(db)
    hazirla = only_task(db, "fenisleri.memur", "Task_hazirla")
    for outsider in ("zabita.memur", "zabita.mudur", "hi1", "ok.sef"):
        assert [t for t in open_tasks(db, outsider) if t["bpmn_id"] == "Task_hazirla"] == []
    with pytest.raises(NotFound):
        act(db, "zabita.memur", lambda s, a: tasks.claim(s, a, hazirla["id"]))
    with pytest.raises(NotFound):
        act(
            db,
            "parkbahceler.memur",
            lambda s, a: tasks.complete(s, a, hazirla["id"], {"hazirlama_sonucu": "birimde_yok"}),
        )
    assert [t for t in open_tasks(db, "fenisleri.memur") if t["bpmn_id"] == "Task_uzatma"] == []
    complete(
        db,
        "fenisleri.memur",
        "Task_hazirla",
        {"hazirlama_sonucu": "birimde_yok", "birim_gerekcesi": "Kayıt yok."},
        at(date(2026, 5, 18)),
    )
    onay = only_task(db, "fenisleri.mudur", "Task_birim_onay")
    assert onay["candidate_groups"] == ["fen_isleri/yonetici"]
    assert [t for t in open_tasks(db, "fenisleri.memur") if t["bpmn_id"] == "Task_birim_onay"] == []
    with pytest.raises(NotFound):
        act(db, "zabita.mudur", lambda s, a: tasks.complete(s, a, onay["id"], {"birim_onayi": "onaylandi"}))
    uzatma = only_task(db, "ok.mudur", "Task_uzatma")
    with pytest.raises(NotFound):
        act(db, "hi1", lambda s, a: tasks.complete(s, a, uzatma["id"], {"uzatma": False}))


def test_havale_due_for_the_directorate_must_leave_two_business_days_before_the_legal_due(db):
    register(db)
    complete(db, "hi1", "Task_sekil", {"sekil_uygun": True}, at(RECEIVED, 11))
    complete(db, "hi2", "Task_kapsam", {"kapsam_sonucu": "kapsamda"}, at(RECEIVED, 14))
    when = at(RECEIVED, 16)
    # 2 business days after Wed 10 June is Fri 12 June, past the legal due of Thu 11 June.
    assert list(refused(db, "ok.sef", "Task_havale", {**HAVALE, "birim_son_tarih": "2026-06-10"}, when)) == [
        "birim_son_tarih"
    ]
    assert list(refused(db, "ok.sef", "Task_havale", {**HAVALE, "birim_son_tarih": "2026-05-14"}, when)) == [
        "birim_son_tarih"
    ]
    complete(db, "ok.sef", "Task_havale", {**HAVALE, "birim_son_tarih": "2026-06-09"}, when)
    assert only_task(db, "fenisleri.memur", "Task_hazirla")["due_at"] == utc("2026-06-09T17:30")


def test_request_for_an_opinion_goes_straight_to_a_reasoned_refusal(db):
    instance_id = register(db)
    complete(db, "hi1", "Task_sekil", {"sekil_uygun": True}, at(RECEIVED, 11))
    complete(
        db,
        "hi1",
        "Task_kapsam",
        {"kapsam_sonucu": "gorus_talebi", "kapsam_aciklamasi": "Başvuran imar planı hakkında görüş istiyor."},
        at(RECEIVED, 12),
    )
    assert [t["bpmn_id"] for t in detail(db, instance_id)["open_tasks"]] == ["Task_karar"]
    refusal = {
        "sonuc": "olumsuz",
        "ret_dayanagi": ["m27"],
        "ret_gerekcesi": "Tavsiye ve mütalaa talepleri Kanun kapsamı dışındadır.",
        "basvuru_yollari": REMEDIES,
    }
    complete(db, "ok.mudur", "Task_karar", refusal, at(RECEIVED, 15))
    complete(
        db,
        "hi1",
        "Task_gonderim",
        {"gonderim_tarihi": "2026-05-18T10:00", "gonderim_kanali": "e_posta"},
        at(date(2026, 5, 18), 11),
    )
    shown = detail(db, instance_id)
    assert shown["status"] == "running" and shown["data"]["sonuc"] == "olumsuz"
    assert shown["data"]["ret_dayanagi"] == ["m27"] and "uzatildi" not in shown["data"]
    assert [w["bpmn_id"] for w in shown["waiting"]] == ["Timer_itiraz_suresi", "Receive_kurul_karari"]
    payload = {"karar": "itiraz_reddedildi", "karar_no": "2026/88"}
    with clock.frozen_at(at(date(2026, 6, 30))):
        act(db, None, lambda s, a: messages.correlate(s, a, "kurul_karari", "BE-TEST-1", payload))
    shown = detail(db, instance_id)
    assert shown["status"] == "completed" and shown["data"]["itiraz_sonucu"] == "itiraz_reddedildi"


def test_an_applicant_without_e_mail_or_phone_is_noticed_by_post(db):
    instance_id = register(
        db, basvuru_kanali="posta", basvuran_eposta=None, basvuran_telefon=None, erisim_tercihi="posta"
    )
    complete(db, "hi1", "Task_sekil", {"sekil_uygun": False, "eksik_unsurlar": ["imza"]}, at(RECEIVED, 11))
    data = detail(db, instance_id)["data"]
    assert data["sonuc"] == "isleme_konulmadi"
    assert [n["kanal"] for n in data["bildirimler"]] == ["posta"]
    assert outbox(db) == []


# ---------------------------------------------------------------- the deadline policy's extension message

# Legal due − 2 business days of an application received Fri 15 May (15th business day Thu 11 June
# 17:30): Wed 10 June at the start of work, when the deadline policy sends ``sure_uzatimi_gerekli``.
RED = at(date(2026, 6, 10), 8, 30)
EXTENSION = {
    "uzatma": True,
    "uzatma_gerekcesi": "baska_birimden_saglanacak",
    "uzatma_bildirim_metni": "Bilgi, Fen İşleri Müdürlüğü arşivinden derlenerek verilecektir.",
    "uzatma_bildirim_tarihi": "2026-06-10T09:00",
    "uzatma_bildirim_kanali": "e_posta",
}


def run_policy(db, when: datetime) -> None:
    assert deadlines.run(db, when).failed == {}


def case_step(db, instance_id: int, step: str) -> DeadlineStep | None:
    return read(
        db,
        lambda s: s.scalars(
            select(DeadlineStep).where(DeadlineStep.key == f"c:{instance_id}", DeadlineStep.step == step)
        ).one_or_none(),
    )


def task_rows(db, instance_id: int, bpmn_id: str) -> list[HumanTask]:
    return read(
        db,
        lambda s: list(
            s.scalars(select(HumanTask).where(HumanTask.instance_id == instance_id, HumanTask.bpmn_id == bpmn_id))
        ),
    )


def awaited_messages(db, instance_id: int) -> list[str]:
    return sorted({w["name"] for w in detail(db, instance_id)["waiting"] if w["type"] == "message"})


def to_applicant(db) -> list[Notification]:
    """What went to the applicant (the policy's notifications to staff left out)."""
    return [n for n in outbox(db) if n.recipient == KAYIT["basvuran_eposta"]]


def urgent_extension_opened(db, instance_id: int) -> dict[str, Any]:
    """Run the policy just before and at the red step: the undecided extension decision is re-opened
    as urgent for the Özel Kalem Müdürü, by the ``sure_uzatimi_gerekli`` message."""
    assert awaited_messages(db, instance_id) == [WITHDRAWN, "sure_uzatimi_gerekli"]
    run_policy(db, at(RECEIVED, 17))  # the policy starts watching the case (due and law from its data)
    run_policy(db, RED - timedelta(minutes=1))
    assert case_step(db, instance_id, "son_2_gun") is None
    run_policy(db, RED)
    step = case_step(db, instance_id, "son_2_gun")
    assert step is not None and step.outcome == "applied"
    assert step.details["message"] == "sure_uzatimi_gerekli" and step.details["task_created"] is True
    urgent = only_task(db, "ok.mudur", "Task_uzatma_ivedi")
    assert urgent["instance_id"] == instance_id and urgent["name"] == "Süre uzatımı kararı (ivedi)"
    assert urgent["candidate_groups"] == ["ozel_kalem_muduru"] and urgent["form_key"] == "f4_uzatma"
    assert urgent["priority"] == 90 and urgent["due_at"] == utc("2026-06-11T17:30")
    assert datetime.fromisoformat(urgent["created_at"]) == RED
    # The routine decision task it replaces is closed; the directorate's preparation is untouched.
    [routine] = task_rows(db, instance_id, "Task_uzatma")
    assert routine.state == TaskState.CANCELLED
    assert [t["bpmn_id"] for t in open_tasks(db, "fenisleri.memur")] == ["Task_hazirla"]
    assert [t for t in open_tasks(db, "hi1") if t["bpmn_id"] == "Task_uzatma_ivedi"] == []
    assert awaited_messages(db, instance_id) == [WITHDRAWN]
    return urgent


def test_policy_reopens_the_undecided_extension_as_urgent_and_the_extension_moves_the_due(db):
    instance_id = to_havale(db)  # Task_hazirla with the directorate, Task_uzatma undecided
    assert detail(db, instance_id)["data"]["kanun"] == "4982"
    urgent_extension_opened(db, instance_id)
    complete(db, "ok.mudur", "Task_uzatma_ivedi", EXTENSION, at(date(2026, 6, 10), 9, 30))
    # The written notice goes to the applicant with the new last day (30th business day, Thu 2 July).
    [notice] = to_applicant(db)
    assert "süre uzatımı" in notice.subject and "2026-07-02" in notice.body
    assert notice.body.startswith(EXTENSION["uzatma_bildirim_metni"])
    prepared(db, at(date(2026, 6, 11), 10))
    data = detail(db, instance_id)["data"]
    assert data["uzatildi"] is True and data["kanun"] == "4982-uzatma"
    assert data["yasal_son_tarih"] == "2026-07-02T17:30:00+03:00"
    assert data["yasal_son_tarih"] == calendar.default_calendar().legal_deadline("4982-uzatma", RECEIVED).isoformat()
    assert only_task(db, "ok.mudur", "Task_karar")["due_at"] == utc("2026-07-02T17:30")
    # The policy follows the extended due: nothing is overdue at the end of the 15th business day.
    run_policy(db, at(date(2026, 6, 11), 17, 31))
    assert case_step(db, instance_id, "gecikti") is None
    watched = read(db, lambda s: s.scalar(select(DeadlineWatch.due_at).where(DeadlineWatch.key == f"c:{instance_id}")))
    assert watched == at(date(2026, 7, 2), 17, 30)
    # The main flow then ends as usual, on time by the extended due.
    complete(
        db,
        "ok.mudur",
        "Task_karar",
        {"sonuc": "olumlu", "erisim_sekli": "e_posta", "sayfa_sayisi": 3},
        at(date(2026, 6, 15)),
    )
    complete(
        db,
        "hi1",
        "Task_gonderim",
        {"gonderim_tarihi": "2026-06-16T11:00", "gonderim_kanali": "e_posta"},
        at(date(2026, 6, 16), 11, 5),
    )
    shown = detail(db, instance_id)
    assert shown["status"] == "completed"
    assert shown["data"]["sonuc"] == "olumlu" and shown["data"]["sure_icinde"] is True
    assert shown["data"]["uzatma_gerekcesi"] == "baska_birimden_saglanacak"


def test_urgent_extension_left_undecided_keeps_the_15_business_day_due(db):
    instance_id = to_havale(db)
    urgent_extension_opened(db, instance_id)
    assert timers.fire_due(db, at(date(2026, 6, 11), 17, 29)).fired_instances == []
    assert timers.fire_due(db, at(date(2026, 6, 11), 17, 31)).fired_instances == [instance_id]
    [urgent] = task_rows(db, instance_id, "Task_uzatma_ivedi")
    assert urgent.state == TaskState.CANCELLED
    prepared(db, at(date(2026, 6, 11), 17, 40))
    data = detail(db, instance_id)["data"]
    assert data["uzatildi"] is False and data["yasal_son_tarih"] == "2026-06-11T17:30:00+03:00"
    assert only_task(db, "ok.mudur", "Task_karar")["due_at"] == utc("2026-06-11T17:30")
    assert to_applicant(db) == []


def test_extension_already_decided_is_not_reopened_by_the_policy(db):
    instance_id = to_havale(db)
    assert awaited_messages(db, instance_id) == [WITHDRAWN, "sure_uzatimi_gerekli"]
    run_policy(db, at(RECEIVED, 17))
    complete(db, "ok.mudur", "Task_uzatma", {"uzatma": False}, at(date(2026, 5, 18)))
    # Decided: the case no longer waits for the policy's message (4982: only while undecided).
    assert awaited_messages(db, instance_id) == [WITHDRAWN]
    run_policy(db, RED)
    step = case_step(db, instance_id, "son_2_gun")
    assert step is not None and step.details["message"] == "sure_uzatimi_gerekli"
    assert step.details["task_created"] is False
    assert task_rows(db, instance_id, "Task_uzatma_ivedi") == []


# ---------------------------------------------------------------- withdrawal (geri çekme) before the answer


def withdraw(db, payload: Any, when: datetime, business_key: str = "BE-TEST-1", username: str = "hi2") -> None:
    with clock.frozen_at(when):
        act(db, username, lambda s, a: messages.correlate(s, a, WITHDRAWN, business_key, payload))


def task_states(db, instance_id: int) -> dict[str, str]:
    rows = read(db, lambda s: list(s.scalars(select(HumanTask).where(HumanTask.instance_id == instance_id))))
    return {r.bpmn_id: str(r.state) for r in sorted(rows, key=lambda r: r.id)}


def open_ids(db, instance_id: int) -> list[str]:
    return sorted(t["bpmn_id"] for t in detail(db, instance_id)["open_tasks"])


CONFIRM = {"geri_cekme_tarihi": "2026-05-20", "geri_cekme_kanali": "e_posta"}


@pytest.mark.parametrize(
    ("stage", "open_before", "cancelled"),
    [
        # The extension decision and the directorate's preparation both open: both close.
        ("both", ["Task_hazirla", "Task_uzatma"], ["Task_hazirla", "Task_uzatma"]),
        # The extension already decided: only the preparation is left to close.
        ("decided", ["Task_hazirla"], ["Task_hazirla"]),
        # The information prepared and approved, the extension still undecided.
        ("prepared", ["Task_uzatma"], ["Task_uzatma"]),
    ],
)
def test_withdrawn_while_the_directorate_prepares(db, stage, open_before, cancelled):
    instance_id = to_havale(db)
    if stage == "decided":
        complete(db, "ok.mudur", "Task_uzatma", {"uzatma": False}, at(date(2026, 5, 18)))
    if stage == "prepared":
        prepared(db, at(date(2026, 5, 19)))
    assert open_ids(db, instance_id) == open_before
    when = at(date(2026, 5, 20), 11)
    withdraw(db, {"tarih": "2026-05-20", "kanal": "e_posta", "aciklama": "Bilgiye artık ihtiyacım yok."}, when)
    states = task_states(db, instance_id)
    assert [states[t] for t in cancelled] == ["cancelled"] * len(cancelled)
    shown = detail(db, instance_id)
    # The 12th/14th/15th business day timers of the extension decision are off too.
    assert shown["waiting"] == [] and open_ids(db, instance_id) == ["Task_geri_cekme"]
    assert shown["data"]["sonuc"] == "geri_cekildi" and shown["data"]["geri_cekme_birimi"] == "fen_isleri"
    confirm = only_task(db, "hi1", "Task_geri_cekme")
    assert confirm["candidate_groups"] == ["bilgi_edinme_birimi"] and confirm["form_key"] == "f4_geri_cekme"
    assert open_tasks(db, "fenisleri.memur") == [] and open_tasks(db, "fenisleri.mudur") == []
    complete(db, "hi1", "Task_geri_cekme", {**CONFIRM, "mudurluk_notu": "Hazırlığı durdurunuz."}, when)
    [mail] = [n for n in outbox(db) if n.recipient == "fen_isleri@kalem.local"]
    assert mail.subject == "Bilgi edinme başvurusu geri çekildi (BE-2026-000001)"
    assert mail.body.startswith("BE-2026-000001 sayılı bilgi edinme başvurusu (konu: Park yenileme ihalesi)")
    assert "20.05.2026 tarihinde geri çekilmiştir" in mail.body
    assert mail.body.endswith("Özel Kalem notu: Hazırlığı durdurunuz.")
    assert [n.recipient for n in outbox(db) if n.recipient == KAYIT["basvuran_eposta"]] == []
    shown = detail(db, instance_id)
    assert shown["status"] == "completed" and shown["open_tasks"] == []
    data = shown["data"]
    assert data["sonuc"] == "geri_cekildi" and data["arsiv"]["sonuc"] == "geri_cekildi"
    assert (data["arsiv"]["sdp_kodu"], data["arsiv"]["saklama_yil"]) == ("604", 5)
    assert "karar_sonucu" not in data
    assert read(db, audit.verify).ok


def test_withdrawn_while_the_fee_is_awaited(db):
    instance_id = fee_notified(db)
    assert task_states(db, instance_id)["Task_ucret_bildirimi"] == "completed"
    withdraw(db, {"tarih": "2026-05-27", "kanal": "dilekce"}, at(date(2026, 6, 1), 10))
    shown = detail(db, instance_id)
    # Neither the payment nor its 15 business days are awaited any more.
    assert shown["waiting"] == [] and open_ids(db, instance_id) == ["Task_geri_cekme"]
    assert shown["data"]["geri_cekme_tarihi"] == "2026-05-27"
    complete(
        db,
        "hi2",
        "Task_geri_cekme",
        {"geri_cekme_tarihi": "2026-05-27", "geri_cekme_kanali": "dilekce"},
        at(date(2026, 6, 1), 11),
    )
    assert outbox(db)[-1].recipient == "fen_isleri@kalem.local"
    shown = detail(db, instance_id)
    assert shown["status"] == "completed" and shown["data"]["sonuc"] == "geri_cekildi"
    assert timers.fire_due(db, at(date(2026, 6, 18), 17, 31)).fired_instances == []


def test_withdrawn_before_the_havale_tells_no_directorate(db):
    instance_id = register(db)
    withdraw(db, {"tarih": "2026-06-30", "kanal": "faks", "aciklama": "Geri çekiyorum."}, at(RECEIVED, 10))
    assert task_states(db, instance_id)["Task_sekil"] == "cancelled"
    # A future date and an unknown channel in the message are not taken: the form asks for them.
    data = detail(db, instance_id)["data"]
    assert (data["geri_cekme_tarihi"], data["geri_cekme_kanali"], data["geri_cekme_aciklama"]) == (
        None,
        None,
        "Geri çekiyorum.",
    )
    errors = refused(
        db,
        "hi1",
        "Task_geri_cekme",
        {"geri_cekme_tarihi": "2026-05-14", "geri_cekme_kanali": "cimer"},
        at(RECEIVED, 11),
    )
    assert list(errors) == ["geri_cekme_tarihi"]  # before the application date
    complete(
        db,
        "hi1",
        "Task_geri_cekme",
        {"geri_cekme_tarihi": "2026-05-15", "geri_cekme_kanali": "cimer"},
        at(RECEIVED, 11),
    )
    assert outbox(db) == []
    shown = detail(db, instance_id)
    assert shown["status"] == "completed" and shown["data"]["geri_cekme_birimi"] is None


def test_a_withdrawal_after_the_answer_was_sent_finds_no_case(db):
    instance_id = to_karar(db)
    assert WITHDRAWN in awaited_messages(db, instance_id)  # withdrawable until the answer goes out
    decision = {
        "sonuc": "olumsuz",
        "ret_gerekcesi": "Kişisel veri.",
        "ret_dayanagi": ["m21"],
        "basvuru_yollari": REMEDIES,
    }
    complete(db, "ok.mudur", "Task_karar", decision, at(date(2026, 5, 21)))
    complete(
        db,
        "hi1",
        "Task_gonderim",
        {"gonderim_tarihi": "2026-05-22T10:00", "gonderim_kanali": "e_posta"},
        at(date(2026, 5, 22), 11),
    )
    # The refusal went out: the case waits for a Kurul decision, never for a withdrawal.
    assert awaited_messages(db, instance_id) == ["kurul_karari"]
    with pytest.raises(NotFound):
        withdraw(db, {"tarih": "2026-05-25", "kanal": "dilekce"}, at(date(2026, 5, 25)))
    shown = detail(db, instance_id)
    assert shown["status"] == "running" and shown["data"]["sonuc"] == "olumsuz"
