"""F1 (dilekçe, 3071), F2 (CİMER) and F3 (HİM) with their shared called process ``basvuru_isleme``,
driven end to end through the engine API as the demo users (domain guide §8 F1–F3)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from factories import act, deploy_flow, only_task, open_tasks, read, start
from sqlalchemy import select

from engine import audit, clock, deadlines, instances, messages, tasks, timers
from engine.calendar import default_calendar
from engine.errors import Conflict, InvalidInput, NotFound
from engine.models import AuditEvent, HumanTask, Notification, TaskState
from engine.models.scheduling import DeadlineStep

ISTANBUL = ZoneInfo("Europe/Istanbul")
# Tuesday 2026-03-10, 09:00 in Istanbul: the day the petitions of most tests arrive.
T0 = datetime(2026, 3, 10, 9, 0, tzinfo=ISTANBUL)
NAME = "Ayşe Yılmaz"

APPLICANT = {
    "kisi_turu": "gercek",
    "basvuran_ad_soyad": NAME,
    "basvuran_telefon": "05321234512",
    "basvuran_eposta": "ayse@example.com",
    "basvuran_adres": "Atatürk Cad. No 5, Çınarlı Mah., Konak",
}
CONTENT = {
    "konu": "Sokağımızdaki yol çukurlarla dolu",
    "konu_kategorisi": "yol",
    "basvuru_metni": "Çınarlı Mahallesi 1203 sokakta asfalt bozuldu, çukurlar araçlara zarar veriyor.",
    "sdp_kodu": "642.02",
}
F1_REGISTER = {
    "kanal": "dilekce_elden",
    "alinma_tarihi": "2026-03-10",
    "basvuru_turu": "sikayet",
    "imza_var": True,
    "cevap_kanali": "e_posta",
    **APPLICANT,
    **CONTENT,
}
ANSWER = "Sokağınızdaki çukurlar ekiplerimizce 12.03.2026 tarihinde asfalt yama ile onarılmıştır."
FINAL = {"ara_cevap": False, "cevap_sonucu": "yapildi", "cevap_metni": ANSWER}
SIGNED = {
    "imza_karari": "imzalandi",
    "ebys_sayi": "E-12345678-642.02-1001",
    "yazi_tarihi": "2026-03-10",
    "imza_sifati": "adina",
}
HAVALE_FEN = {"hedef_birim": "fen_isleri", "talimat": "gereginin_rica", "havale_notu": "Gereğini rica ederim."}


@pytest.fixture
def flows(db) -> Iterator[Any]:
    deploy_flow(db, "basvuru")
    with clock.frozen_at(T0):
        yield db


# ---------------------------------------------------------------- helpers


def complete(
    db, username: str, bpmn_id: str, data: dict[str, Any] | None = None, *, instance_id: int | None = None
) -> dict[str, Any]:
    if instance_id is None:
        task = only_task(db, username, bpmn_id)
    else:
        [task] = [t for t in open_tasks(db, username) if (t["bpmn_id"], t["instance_id"]) == (bpmn_id, instance_id)]
    act(db, username, lambda s, a: tasks.complete(s, a, task["id"], data or {}))
    return task


def detail(db, instance_id: int, username: str | None = None) -> dict[str, Any]:
    return act(db, username, lambda s, a: instances.show(s, a, instance_id).as_dict())


def open_bpmn_ids(db, instance_id: int) -> list[str]:
    return [t["bpmn_id"] for t in detail(db, instance_id)["open_tasks"]]


def outbox(db, instance_id: int) -> list[tuple[str, str, str]]:
    rows = read(db, lambda s: s.scalars(select(Notification).where(Notification.instance_id == instance_id)).all())
    return [(n.recipient, n.subject, n.body) for n in sorted(rows, key=lambda n: n.id)]


def register_f1(db, **changes: Any) -> int:
    instance_id = start(db, "f1_dilekce", "idari1")
    complete(db, "idari1", "Task_register", {**F1_REGISTER, **changes})
    return instance_id


def havale_to_fen(db) -> None:
    complete(db, "ok.sef", "Task_prereview", {"on_inceleme_karari": "havale"})
    complete(db, "ok.sef", "Task_route", HAVALE_FEN)
    complete(
        db,
        "fenisleri.mudur",
        "Task_internal_route",
        {"ic_havale_karari": "kabul", "atama_sekli": "kisi", "sorumlu_personel": "fenisleri.memur"},
    )


def answer_through_signature(db, draft: dict[str, Any] | None = None) -> None:
    complete(db, "fenisleri.memur", "Task_draft", draft or FINAL)
    complete(db, "fenisleri.mudur", "Task_initials", {"paraf_karari": "parafla"})
    complete(db, "ok.sef", "Task_ok_review", {"kontrol_karari": "uygun", "kisisel_veri_kontrolu": True})
    complete(db, "by.kaya", "Task_sign", SIGNED)


def due_local(task: dict[str, Any]) -> str:
    return datetime.fromisoformat(task["due_at"]).astimezone(ISTANBUL).isoformat()


# ---------------------------------------------------------------- F1 happy path and deadlines


def test_f1_happy_path_from_registration_to_archive(flows):
    db = flows
    instance_id = register_f1(db)
    data = detail(db, instance_id)["data"]
    assert data["kayit_no"] == "DLK-2026-000001"
    assert data["alindi_belgesi"]["kayit_no"] == "DLK-2026-000001"
    # Receipt with the legal answer date goes to the applicant at once.
    assert outbox(db, instance_id) == [
        (
            "ayse@example.com",
            "Başvurunuz alındı (DLK-2026-000001)",
            "Başvurunuz DLK-2026-000001 sayı ile kaydedilmiştir. Konu: Sokağımızdaki yol çukurlarla dolu. "
            "3071 sayılı Kanun uyarınca en geç 09.04.2026 tarihine kadar size bilgi verilecektir.",
        )
    ]
    # Ön inceleme is for Özel Kalem management, not for the clerk who registered it.
    assert [t["bpmn_id"] for t in open_tasks(db, "idari1")] == []
    complete(db, "ok.sef", "Task_prereview", {"on_inceleme_karari": "havale"})

    route = only_task(db, "ok.mudur", "Task_route")
    assert route["candidate_groups"] == ["ozel_kalem_muduru", "ozel_kalem_sef"]
    assert detail(db, instance_id)["data"]["onerilen_birim"] == "fen_isleri"
    complete(db, "ok.sef", "Task_route", HAVALE_FEN)

    internal = only_task(db, "fenisleri.mudur", "Task_internal_route")
    assert internal["candidate_groups"] == ["fen_isleri/yonetici"]
    assert open_tasks(db, "fenisleri.memur") == []
    complete(
        db,
        "fenisleri.mudur",
        "Task_internal_route",
        {"ic_havale_karari": "kabul", "atama_sekli": "kisi", "sorumlu_personel": "fenisleri.memur"},
    )

    draft = only_task(db, "fenisleri.memur", "Task_draft")
    assert (draft["assignee"], draft["state"], draft["candidate_groups"]) == (
        "fenisleri.memur",
        "claimed",
        ["fen_isleri"],
    )
    answer_through_signature(db)

    # The signed answer is e-mailed; the clerk records the dispatch, and the case file is archived.
    assert outbox(db, instance_id)[-1] == ("ayse@example.com", "Başvurunuz cevaplandı (DLK-2026-000001)", ANSWER)
    complete(db, "idari1", "Task_send_reply", {"gonderim_tarihi": "2026-03-10", "gonderim_kanali": "e_posta"})
    final = detail(db, instance_id)
    assert final["status"] == "completed" and final["open_tasks"] == []
    data = final["data"]
    assert data["sonuc"] == "cevaplandi" and data["cevap_sonucu"] == "yapildi"
    assert data["arsiv"]["sonuc"] == "cevaplandi" and data["arsiv"]["sdp_kodu"] == "642.02"
    assert data["arsiv"]["kayit_no"] == "DLK-2026-000001"
    assert [h["tur"] for h in data["havale_gecmisi"]] == ["havale", "ic_havale"]
    assert data["ebys_sayi"] == "E-12345678-642.02-1001"


@pytest.mark.parametrize(
    ("received", "legal_due"),
    [
        # Tuesday: 30 days end on Thursday 2026-04-09, a business day.
        ("2026-03-10", "2026-04-09T17:30:00+03:00"),
        # Day 30 is Friday 2026-03-20, Ramazan Bayramı: the deadline moves to Monday 2026-03-23.
        ("2026-02-18", "2026-03-23T17:30:00+03:00"),
        # Day 30 is the arife 2026-03-19 (a half day): the deadline ends at 13:00.
        ("2026-02-17", "2026-03-19T13:00:00+03:00"),
        # Domain guide §4.3 vector: Sunday 2026-04-12 rolls to Monday 2026-04-13.
        ("2026-03-13", "2026-04-13T17:30:00+03:00"),
    ],
)
def test_f1_3071_deadline_on_known_dates(flows, received: str, legal_due: str):
    db = flows
    with clock.frozen_at(datetime.fromisoformat(received).replace(hour=9, tzinfo=ISTANBUL)):
        check_deadlines(db, received, legal_due)


def check_deadlines(db, received: str, legal_due: str) -> None:
    instance_id = register_f1(db, alinma_tarihi=received)
    data = detail(db, instance_id)["data"]
    calendar = default_calendar()
    assert data["yasal_son_tarih"] == calendar.legal_deadline("3071", date.fromisoformat(received)).isoformat()
    assert data["yasal_son_tarih"] == legal_due
    assert data["ic_son_tarih"] < data["yasal_son_tarih"]
    # Tasks are due by the case's clocks: ön inceleme one business day on, never after the internal due.
    prereview = only_task(db, "ok.sef", "Task_prereview")
    assert due_local(prereview) == min(
        calendar.deadline(calendar.today(), 1, "business").isoformat(), data["ic_son_tarih"]
    )
    complete(db, "ok.sef", "Task_prereview", {"on_inceleme_karari": "havale"})
    complete(db, "ok.sef", "Task_route", HAVALE_FEN)
    complete(db, "fenisleri.mudur", "Task_internal_route", {"ic_havale_karari": "kabul", "atama_sekli": "birim"})
    # Without a directorate date the answer is due by the internal deadline (legal due − 7 days).
    assert due_local(only_task(db, "fenisleri.memur", "Task_draft")) == data["ic_son_tarih"]


def test_f1_directorate_answer_date_from_havale_sets_the_draft_due(flows):
    db = flows
    register_f1(db)
    complete(db, "ok.sef", "Task_prereview", {"on_inceleme_karari": "havale"})
    for bad, field in [
        ({"bilgi_birimleri": ["fen_isleri", "zabita"]}, "bilgi_birimleri"),
        ({"birim_cevap_tarihi": "2026-03-09"}, "birim_cevap_tarihi"),  # in the past
        ({"birim_cevap_tarihi": "2026-04-09"}, "birim_cevap_tarihi"),  # not before the legal due
    ]:
        with pytest.raises(InvalidInput) as err:
            complete(db, "ok.sef", "Task_route", {**HAVALE_FEN, **bad})
        assert field in err.value.field_errors
    complete(
        db, "ok.sef", "Task_route", {**HAVALE_FEN, "birim_cevap_tarihi": "2026-03-27", "bilgi_birimleri": ["zabita"]}
    )
    complete(db, "fenisleri.mudur", "Task_internal_route", {"ic_havale_karari": "kabul", "atama_sekli": "birim"})
    assert due_local(only_task(db, "fenisleri.memur", "Task_draft")) == "2026-03-27T17:30:00+03:00"
    # A directorate only informed (bilgi) gets no task.
    assert open_tasks(db, "zabita.mudur") == []


@pytest.mark.parametrize(
    ("topic", "suggested"),
    [("yol", "fen_isleri"), ("gurultu", "zabita"), ("temizlik", "temizlik_isleri"), ("diger", None)],
)
def test_topic_table_suggests_the_directorate_for_the_havale(flows, topic: str, suggested: str | None):
    db = flows
    instance_id = register_f1(db, konu_kategorisi=topic)
    complete(db, "ok.sef", "Task_prereview", {"on_inceleme_karari": "havale"})
    assert only_task(db, "ok.sef", "Task_route")["form_key"] == "basvuru_havale"
    assert detail(db, instance_id)["data"]["onerilen_birim"] == suggested


# ---------------------------------------------------------------- F1 ön inceleme branches


@pytest.mark.parametrize(
    ("decision", "sonuc", "text"),
    [
        (
            {"on_inceleme_karari": "incelenemez", "incelenemez_gerekcesi": "konu_belirsiz"},
            "incelenemez",
            "Başvurunuz 3071 sayılı Kanunun 6. maddesi uyarınca incelenememiştir: "
            "dilekçede belirli bir konu bulunmamaktadır.",
        ),
        (
            {"on_inceleme_karari": "mukerrer", "mukerrer_kayit_no": "DLK-2026-000042"},
            "birlestirildi",
            "Başvurunuz, aynı konudaki DLK-2026-000042 sayılı başvurunuzla birleştirilmiştir; "
            "cevap o başvuru üzerinden verilecektir.",
        ),
        (
            {"on_inceleme_karari": "bilgi_edinme"},
            "bilgi_edinmeye_aktarildi",
            "Başvurunuz, 4982 sayılı Bilgi Edinme Hakkı Kanunu kapsamında değerlendirilmek üzere "
            "Bilgi Edinme Birimine aktarılmıştır.",
        ),
    ],
)
def test_f1_prereview_branches_that_close_at_once(flows, decision, sonuc, text):
    db = flows
    instance_id = register_f1(db)
    complete(db, "ok.sef", "Task_prereview", decision)
    final = detail(db, instance_id)
    assert final["status"] == "completed"
    assert final["data"]["sonuc"] == sonuc and final["data"]["arsiv"]["sonuc"] == sonuc
    assert outbox(db, instance_id)[-1] == ("ayse@example.com", "Başvurunuz hakkında (DLK-2026-000001)", text)


def test_f1_unsigned_written_petition_can_only_be_closed_as_not_examinable(flows):
    db = flows
    instance_id = register_f1(db, imza_var=False, basvuran_eposta=None, cevap_kanali="posta")
    with pytest.raises(InvalidInput) as err:
        complete(db, "ok.sef", "Task_prereview", {"on_inceleme_karari": "havale"})
    assert "on_inceleme_karari" in err.value.field_errors
    with pytest.raises(InvalidInput) as missing_reason:
        complete(db, "ok.sef", "Task_prereview", {"on_inceleme_karari": "incelenemez"})
    assert "incelenemez_gerekcesi" in missing_reason.value.field_errors
    complete(
        db,
        "ok.sef",
        "Task_prereview",
        {"on_inceleme_karari": "incelenemez", "incelenemez_gerekcesi": "ad_imza_adres_eksik"},
    )
    final = detail(db, instance_id)
    assert final["status"] == "completed" and final["data"]["sonuc"] == "incelenemez"
    # No e-mail address: nothing is sent, not even the receipt.
    assert outbox(db, instance_id) == []


def test_f1_other_institution_gets_a_forwarding_letter_and_the_applicant_is_told(flows):
    db = flows
    instance_id = register_f1(db)
    with pytest.raises(InvalidInput) as err:
        complete(db, "ok.sef", "Task_prereview", {"on_inceleme_karari": "baska_kurum"})
    assert "yetkili_kurum" in err.value.field_errors
    complete(
        db,
        "ok.sef",
        "Task_prereview",
        {"on_inceleme_karari": "baska_kurum", "yetkili_kurum": "İzmir Büyükşehir Belediyesi"},
    )
    letter = only_task(db, "idari2", "Task_forward_letter")
    # Internal SLA: two business days (Tuesday → Thursday).
    assert due_local(letter) == "2026-03-12T17:30:00+03:00"
    assert open_tasks(db, "fenisleri.mudur") == []
    complete(
        db,
        "idari2",
        "Task_forward_letter",
        {
            "yonlendirme_ebys_sayi": "E-12345678-642.02-1002",
            "yonlendirme_tarihi": "2026-03-10",
            "yonlendirme_imzalayan": "Mehmet Kaya, Başkan Yardımcısı",
            "yonlendirme_kanali": "e_yazisma",
            "basvuru_sahibi_bilgilendirme": "e_posta",
        },
    )
    final = detail(db, instance_id)
    assert final["status"] == "completed" and final["data"]["sonuc"] == "baska_kuruma_gonderildi"
    assert outbox(db, instance_id)[-1] == (
        "ayse@example.com",
        "Başvurunuz hakkında (DLK-2026-000001)",
        "Başvurunuz konusu itibarıyla İzmir Büyükşehir Belediyesi görev alanında olduğundan 3071 sayılı Kanunun "
        "5. maddesi uyarınca 2026-03-10 tarih ve E-12345678-642.02-1002 sayılı yazı ile bu kuruma gönderilmiştir.",
    )


def test_f1_ozel_kalem_answers_itself_without_directorate_initials_or_review(flows):
    db = flows
    instance_id = register_f1(db, konu_kategorisi="diger")
    complete(db, "ok.sef", "Task_prereview", {"on_inceleme_karari": "ozel_kalem_cevaplar"})
    draft = only_task(db, "hi1", "Task_draft")
    assert draft["candidate_groups"] == ["halkla_iliskiler", "idari_isler", "ozel_kalem_sef"]
    assert open_tasks(db, "fenisleri.memur") == []
    complete(db, "hi1", "Task_draft", FINAL)
    # Step 2e: straight to the signature (no Müdür paraf, no Özel Kalem kontrol).
    assert open_bpmn_ids(db, instance_id) == ["Task_sign"]
    complete(db, "baskan", "Task_sign", SIGNED)
    complete(db, "idari1", "Task_send_reply", {"gonderim_tarihi": "2026-03-10", "gonderim_kanali": "e_posta"})
    data = detail(db, instance_id)["data"]
    assert data["sonuc"] == "cevaplandi" and data["havale_gecmisi"] == []


# ---------------------------------------------------------------- shared processing: returns and loops


def test_wrong_havale_is_returned_with_its_reason_then_rerouted(flows):
    db = flows
    instance_id = register_f1(db)
    complete(db, "ok.sef", "Task_prereview", {"on_inceleme_karari": "havale"})
    complete(db, "ok.sef", "Task_route", {**HAVALE_FEN, "hedef_birim": "zabita"})
    assert open_tasks(db, "fenisleri.mudur") == []
    with pytest.raises(InvalidInput) as err:
        complete(db, "zabita.mudur", "Task_internal_route", {"ic_havale_karari": "iade"})
    assert "iade_gerekcesi" in err.value.field_errors
    complete(
        db,
        "zabita.mudur",
        "Task_internal_route",
        {"ic_havale_karari": "iade", "iade_gerekcesi": "Yol onarımı Fen İşlerinin görevidir."},
    )

    again = only_task(db, "ok.sef", "Task_route")
    assert again["priority"] == 80
    data = detail(db, instance_id, "ok.sef")["data"]
    assert data["havale_iade_gerekcesi"] == "Yol onarımı Fen İşlerinin görevidir."
    assert data["iade_eden_birim"] == "zabita" and data["havale_iade_sayisi"] == 1
    assert open_tasks(db, "zabita.mudur") == [] and open_tasks(db, "zabita.memur") == []

    complete(db, "ok.sef", "Task_route", HAVALE_FEN)
    complete(db, "fenisleri.mudur", "Task_internal_route", {"ic_havale_karari": "kabul", "atama_sekli": "birim"})
    # No person picked: the whole directorate sees the draft task.
    draft = only_task(db, "fenisleri.memur", "Task_draft")
    assert draft["assignee"] is None and draft["candidate_groups"] == ["fen_isleri"]
    assert open_tasks(db, "zabita.memur") == []
    history = detail(db, instance_id)["data"]["havale_gecmisi"]
    assert [(h["tur"], h["birim"]) for h in history] == [
        ("havale", "zabita"),
        ("iade", "zabita"),
        ("havale", "fen_isleri"),
        ("ic_havale", "fen_isleri"),
    ]


def test_ozel_kalem_review_sends_the_draft_back_for_revision(flows):
    db = flows
    instance_id = register_f1(db)
    havale_to_fen(db)
    complete(db, "fenisleri.memur", "Task_draft", FINAL)
    complete(db, "fenisleri.mudur", "Task_initials", {"paraf_karari": "parafla"})
    with pytest.raises(InvalidInput) as err:
        complete(db, "ok.sef", "Task_ok_review", {"kontrol_karari": "uygun", "kisisel_veri_kontrolu": False})
    assert "kisisel_veri_kontrolu" in err.value.field_errors
    complete(db, "ok.sef", "Task_ok_review", {"kontrol_karari": "revizyon", "kontrol_notu": "Onarım tarihini ekleyin."})

    # Back to the same preparer, with the note in the case data.
    redo = only_task(db, "fenisleri.memur", "Task_draft")
    assert redo["assignee"] == "fenisleri.memur"
    data = detail(db, instance_id, "fenisleri.memur")["data"]
    assert data["kontrol_notu"] == "Onarım tarihini ekleyin." and data["revizyon_sayisi"] == 1
    answer_through_signature(db, {**FINAL, "cevap_metni": ANSWER + " Onarım 12.03.2026'da bitti."})
    complete(db, "idari1", "Task_send_reply", {"gonderim_tarihi": "2026-03-10", "gonderim_kanali": "e_posta"})
    assert detail(db, instance_id)["status"] == "completed"


def test_directorate_manager_sends_the_draft_back_before_initialling(flows):
    db = flows
    instance_id = register_f1(db)
    havale_to_fen(db)
    complete(db, "fenisleri.memur", "Task_draft", FINAL)
    complete(db, "fenisleri.mudur", "Task_initials", {"paraf_karari": "geri_gonder", "paraf_notu": "Eksik bilgi var."})
    assert open_bpmn_ids(db, instance_id) == ["Task_draft"]
    answer_through_signature(db)
    assert open_bpmn_ids(db, instance_id) == ["Task_send_reply"]


def test_answer_text_must_not_carry_a_tckn(flows):
    db = flows
    register_f1(db)
    havale_to_fen(db)
    with pytest.raises(InvalidInput) as err:
        complete(db, "fenisleri.memur", "Task_draft", {**FINAL, "cevap_metni": ANSWER + " Komşunuz 10000000146 da..."})
    assert "cevap_metni" in err.value.field_errors


def test_interim_answer_keeps_the_case_open_until_the_promised_date(flows):
    db = flows
    instance_id = register_f1(db)
    havale_to_fen(db)
    promised = date(2026, 3, 30)
    with pytest.raises(InvalidInput) as err:
        complete(db, "fenisleri.memur", "Task_draft", {"ara_cevap": True, "cevap_metni": ANSWER})
    assert "beklenen_sonuc_tarihi" in err.value.field_errors
    interim = "Yol onarımı ihale programına alınmıştır; çalışmalar planlanan tarihte tamamlanacaktır."
    answer_through_signature(
        db, {"ara_cevap": True, "beklenen_sonuc_tarihi": promised.isoformat(), "cevap_metni": interim}
    )

    # The interim answer is e-mailed and its dispatch recorded; then the case waits for the promised date.
    assert outbox(db, instance_id)[-1][0:2] == ("ayse@example.com", "Başvurunuz hakkında ara bilgi (DLK-2026-000001)")
    assert outbox(db, instance_id)[-1][2].startswith(interim)
    complete(
        db, "idari2", "Task_send_interim", {"ara_cevap_gonderim_tarihi": "2026-03-10", "ara_cevap_kanali": "e_posta"}
    )
    waiting = detail(db, instance_id)
    assert waiting["status"] == "running" and waiting["open_tasks"] == []
    assert waiting["data"]["durum"] == "ara_cevap_verildi"
    fire_at = datetime.combine(promised, datetime.min.time(), ISTANBUL).replace(hour=9)
    # The promised date (Timer_promised) is awaited by the event gateway that also takes a withdrawal.
    assert [
        (w["type"], w["bpmn_id"], datetime.fromisoformat(w["fire_at"]))
        for w in waiting["waiting"]
        if w["type"] == "timer"
    ] == [("timer", "Gw_wait_promised", fire_at)]
    # While the case is being processed it also waits for the deadline policy's ara cevap message.
    assert sorted((w["name"], w["bpmn_id"]) for w in waiting["waiting"] if w["type"] == "message") == [
        ("ara_cevap_gerekli", "Boundary_ara_cevap"),
        ("basvuru_geri_cekildi", "Gw_wait_promised"),
    ]
    assert timers.fire_due(db, fire_at - timedelta(minutes=1)).fired_instances == []
    # One minute after: SpiffWorkflow fires a timeDate only once it is strictly in the past.
    later = fire_at + timedelta(minutes=1)
    assert timers.fire_due(db, later).fired_instances == [instance_id]

    # The draft task re-opens for the same preparer, for the final answer.
    with clock.frozen_at(later):
        redo = only_task(db, "fenisleri.memur", "Task_draft")
        assert redo["assignee"] == "fenisleri.memur"
        # Internal SLA for the final answer: five business days after the promised date.
        assert due_local(redo) == "2026-04-06T17:30:00+03:00"
        assert detail(db, instance_id)["data"]["durum"] == "nihai_cevap_bekleniyor"
        answer_through_signature(db)
        assert outbox(db, instance_id)[-1] == ("ayse@example.com", "Başvurunuz cevaplandı (DLK-2026-000001)", ANSWER)
        complete(db, "idari1", "Task_send_reply", {"gonderim_tarihi": "2026-03-10", "gonderim_kanali": "e_posta"})
    final = detail(db, instance_id)
    assert final["status"] == "completed" and final["data"]["sonuc"] == "cevaplandi"
    assert [a["metin"] for a in final["data"]["ara_cevap_gecmisi"]] == [interim]


def test_signer_returns_the_letter_for_correction(flows):
    db = flows
    instance_id = register_f1(db)
    havale_to_fen(db)
    complete(db, "fenisleri.memur", "Task_draft", FINAL)
    complete(db, "fenisleri.mudur", "Task_initials", {"paraf_karari": "parafla"})
    complete(db, "ok.sef", "Task_ok_review", {"kontrol_karari": "uygun", "kisisel_veri_kontrolu": True})
    # Only the Mayor and the deputy mayors sign citizen replies (Konak m.14b).
    assert open_tasks(db, "ok.mudur") == [] and open_tasks(db, "fenisleri.mudur") == []
    complete(db, "by.demir", "Task_sign", {"imza_karari": "iade", "imza_iade_notu": "Dil daha açık olmalı."})
    assert open_bpmn_ids(db, instance_id) == ["Task_draft"]
    assert detail(db, instance_id)["data"]["imza_iade_notu"] == "Dil daha açık olmalı."


# ---------------------------------------------------------------- permissions and personal data


def test_other_directorates_never_see_or_take_a_fen_isleri_case(flows):
    db = flows
    instance_id = register_f1(db)
    havale_to_fen(db)
    draft = only_task(db, "fenisleri.memur", "Task_draft")
    for outsider in ("zabita.memur", "zabita.mudur", "temizlikisleri.memur"):
        assert open_tasks(db, outsider) == []
        with pytest.raises(NotFound):
            act(db, outsider, lambda s, a: tasks.claim(s, a, draft["id"]))
        with pytest.raises(NotFound):
            act(db, outsider, lambda s, a: tasks.show(s, a, draft["id"]))
        with pytest.raises(NotFound):
            detail(db, instance_id, outsider)
    # The directorate itself sees the case with the applicant (it works on it).
    assert detail(db, instance_id, "fenisleri.memur")["data"]["basvuran_ad_soyad"] == NAME
    complete(db, "fenisleri.memur", "Task_draft", FINAL)
    initials = only_task(db, "fenisleri.mudur", "Task_initials")
    with pytest.raises(NotFound):
        act(db, "zabita.mudur", lambda s, a: tasks.claim(s, a, initials["id"]))


def test_intake_clerk_cannot_route_or_sign(flows):
    db = flows
    register_f1(db)
    prereview = only_task(db, "ok.sef", "Task_prereview")
    with pytest.raises(NotFound):
        act(db, "idari1", lambda s, a: tasks.claim(s, a, prereview["id"]))
    complete(db, "ok.sef", "Task_prereview", {"on_inceleme_karari": "havale"})
    assert open_tasks(db, "idari1") == [] and open_tasks(db, "hi1") == []


# ---------------------------------------------------------------- F2 CİMER


def cimer_register(**changes: Any) -> dict[str, Any]:
    return {
        "cimer_no": "2026000123",
        "cimer_sevk_tarihi": "2026-03-09",
        "basvuru_turu": "sikayet",
        "kimlik_gizli": False,
        **{k: v for k, v in APPLICANT.items() if k != "kisi_turu"},
        **CONTENT,
        **changes,
    }


def start_cimer(db, number: str = "2026000123", **data: Any) -> int:
    return start(db, "f2_cimer", "hi1", business_key=f"CIMER-{number}", data={"cimer_no": number, **data})


def test_f2_cimer_happy_path_is_marked_answered_in_cimer(flows):
    db = flows
    instance_id = start_cimer(db)
    complete(db, "hi1", "Task_register", cimer_register())
    data = detail(db, instance_id)["data"]
    assert data["kayit_no"] == "CMR-2026-000001"
    # The CİMER sevk date starts the 3071 clock (Monday 2026-03-09 → Wednesday 2026-04-08).
    assert data["yasal_son_tarih"] == default_calendar().legal_deadline("3071", date(2026, 3, 9)).isoformat()
    assert data["yasal_son_tarih"] == "2026-04-08T17:30:00+03:00"
    havale_to_fen(db)
    answer_through_signature(db)
    # CİMER answers through CİMER: no e-mail from Kalem.
    assert outbox(db, instance_id) == []
    mark = only_task(db, "hi2", "Task_mark_answered")
    assert mark["candidate_groups"] == ["halkla_iliskiler"] and mark["business_key"] == "CIMER-2026000123"
    with pytest.raises(InvalidInput) as err:
        complete(db, "hi2", "Task_mark_answered", {"cimer_cevap_tarihi": "2026-03-08", "cimer_kapandi": False})
    assert {"cimer_cevap_tarihi", "cimer_kapandi"} <= set(err.value.field_errors)
    complete(db, "hi2", "Task_mark_answered", {"cimer_cevap_tarihi": "2026-03-10", "cimer_kapandi": True})
    final = detail(db, instance_id)
    assert final["status"] == "completed"
    assert final["data"]["sonuc"] == "cevaplandi" and str(final["data"]["cimer_cevap_tarihi"]) == "2026-03-10"


def test_f2_not_processed_under_cimer_regulation_m5(flows):
    db = flows
    instance_id = start_cimer(db)
    complete(db, "hi1", "Task_register", cimer_register())
    with pytest.raises(InvalidInput) as err:
        complete(db, "ok.sef", "Task_prereview", {"on_inceleme_karari": "islem_alinmaz"})
    assert "islem_alinmaz_gerekcesi" in err.value.field_errors
    complete(
        db, "ok.sef", "Task_prereview", {"on_inceleme_karari": "islem_alinmaz", "islem_alinmaz_gerekcesi": "ozel_hukuk"}
    )
    assert open_tasks(db, "fenisleri.mudur") == []
    complete(
        db,
        "hi1",
        "Task_mark_other",
        {
            "cimer_islem_tarihi": "2026-03-10",
            "cimer_cevap_metni": "Başvurunuz kişiler arası özel hukuk uyuşmazlığı olduğundan işleme alınmamıştır.",
        },
    )
    final = detail(db, instance_id)
    assert final["status"] == "completed" and final["data"]["sonuc"] == "islem_yapilmadi"
    assert final["data"]["arsiv"]["sonuc"] == "islem_yapilmadi"


def test_f2_duplicate_cimer_number_is_refused(flows):
    db = flows
    first = start_cimer(db)
    with pytest.raises(Conflict) as err:
        start_cimer(db)
    assert err.value.code == "duplicate_business_key"
    # A different number is a different case; its form must carry the number it was started with.
    second = start_cimer(db, "2026000124")
    with pytest.raises(InvalidInput) as mismatch:
        complete(db, "hi1", "Task_register", cimer_register(cimer_no="2026000123"), instance_id=second)
    assert "cimer_no" in mismatch.value.field_errors
    with pytest.raises(InvalidInput) as bad_format:
        complete(db, "hi1", "Task_register", cimer_register(cimer_no="CMR-12"), instance_id=second)
    assert "cimer_no" in bad_format.value.field_errors
    complete(db, "hi1", "Task_register", cimer_register(cimer_no="2026000124"), instance_id=second)
    assert detail(db, second)["data"]["kayit_no"] == "CMR-2026-000001"
    # Still refused after the first case has ended.
    complete(db, "hi1", "Task_register", cimer_register(), instance_id=first)
    complete(db, "ok.sef", "Task_prereview", {"on_inceleme_karari": "bilgi_edinme"}, instance_id=first)
    assert detail(db, first)["status"] == "completed"
    with pytest.raises(Conflict):
        start_cimer(db)


def test_f2_information_request_runs_on_the_4982_clock_and_goes_to_f4(flows):
    db = flows
    instance_id = start_cimer(db)
    complete(db, "hi1", "Task_register", cimer_register(basvuru_turu="bilgi_edinme"))
    data = detail(db, instance_id)["data"]
    assert data["yasal_son_tarih"] == default_calendar().legal_deadline("4982", date(2026, 3, 9)).isoformat()
    # The deadline policy reads the law from the case: a 4982 clock, not 3071's ara cevap.
    assert data["kanun"] == "4982"
    with pytest.raises(InvalidInput) as err:
        complete(db, "ok.sef", "Task_prereview", {"on_inceleme_karari": "havale"})
    assert "on_inceleme_karari" in err.value.field_errors
    complete(db, "ok.sef", "Task_prereview", {"on_inceleme_karari": "bilgi_edinme"})
    assert detail(db, instance_id)["data"]["sonuc"] == "bilgi_edinmeye_aktarildi"


def test_f2_hidden_identity_is_not_stored_from_the_form(flows):
    db = flows
    instance_id = start_cimer(db)
    complete(db, "hi1", "Task_register", cimer_register(kimlik_gizli=True))
    data = detail(db, instance_id, "hi1")["data"]
    assert data["kimlik_gizli"] is True
    assert [data[k] for k in ("basvuran_ad_soyad", "basvuran_tckn", "basvuran_eposta")] == [None, None, None]


def test_f2_hidden_identity_is_masked_for_the_directorate(flows):
    """Identity data that reached the case anyway (e.g. an import) stays hidden outside CİMER holders."""
    db = flows
    instance_id = start_cimer(db, kimlik_gizli=True, basvuran_ad_soyad=NAME, basvuran_tckn="10000000146")
    complete(db, "hi1", "Task_register", cimer_register(kimlik_gizli=True))
    havale_to_fen(db)
    draft = only_task(db, "fenisleri.memur", "Task_draft")
    as_clerk = detail(db, instance_id, "fenisleri.memur")
    assert NAME not in str(as_clerk) and "10000000146" not in str(as_clerk)
    assert NAME not in str(draft)
    task_view = act(db, "fenisleri.memur", lambda s, a: tasks.as_dict(tasks.show(s, a, draft["id"])))
    assert NAME not in str(task_view)
    # Registering with kimlik gizli clears what the import brought (§9: do not store what CİMER hides).
    assert detail(db, instance_id, "hi1")["data"]["basvuran_ad_soyad"] is None


# ---------------------------------------------------------------- F3 HİM


def test_f3_him_happy_path_is_closed_in_him(flows):
    db = flows
    instance_id = start(db, "f3_him", "hi2", business_key="HIM-153-2026-77", data={"him_no": "153-2026-77"})
    complete(
        db,
        "hi2",
        "Task_register",
        {
            "him_no": "153-2026-77",
            "him_sevk_tarihi": "2026-03-10",
            "basvuru_turu": "istek",
            **{k: v for k, v in APPLICANT.items() if k != "kisi_turu"},
            **CONTENT,
            "konu_kategorisi": "park",
        },
    )
    data = detail(db, instance_id)["data"]
    assert data["kayit_no"] == "HIM-2026-000001" and data["kanal"] == "him"
    assert data["yasal_son_tarih"] == "2026-04-09T17:30:00+03:00"
    complete(db, "ok.sef", "Task_prereview", {"on_inceleme_karari": "havale"})
    assert detail(db, instance_id)["data"]["onerilen_birim"] == "park_bahceler"
    complete(db, "ok.mudur", "Task_route", {**HAVALE_FEN, "hedef_birim": "park_bahceler"})
    assert open_tasks(db, "fenisleri.mudur") == []
    complete(db, "parkbahceler.mudur", "Task_internal_route", {"ic_havale_karari": "kabul", "atama_sekli": "birim"})
    complete(db, "parkbahceler.memur", "Task_draft", FINAL)
    complete(db, "parkbahceler.mudur", "Task_initials", {"paraf_karari": "parafla"})
    complete(db, "ok.mudur", "Task_ok_review", {"kontrol_karari": "uygun", "kisisel_veri_kontrolu": True})
    complete(db, "baskan", "Task_sign", SIGNED)
    assert outbox(db, instance_id) == []
    complete(db, "hi1", "Task_mark_answered", {"him_cevap_tarihi": "2026-03-10", "him_kapandi": True})
    final = detail(db, instance_id)
    assert final["status"] == "completed" and final["data"]["sonuc"] == "cevaplandi"
    with pytest.raises(Conflict):
        start(db, "f3_him", "hi2", business_key="HIM-153-2026-77", data={"him_no": "153-2026-77"})


def test_f3_forwarded_to_another_institution_is_recorded_in_him(flows):
    db = flows
    instance_id = start(db, "f3_him", "hi2", business_key="HIM-88", data={"him_no": "88-A"})
    with pytest.raises(InvalidInput):
        complete(
            db,
            "hi2",
            "Task_register",
            {"him_no": "88-B", "him_sevk_tarihi": "2026-03-10", "basvuru_turu": "istek", **CONTENT},
        )
    complete(
        db,
        "hi2",
        "Task_register",
        {"him_no": "88-A", "him_sevk_tarihi": "2026-03-10", "basvuru_turu": "istek", **CONTENT},
    )
    complete(
        db, "ok.sef", "Task_prereview", {"on_inceleme_karari": "baska_kurum", "yetkili_kurum": "İZSU Genel Müdürlüğü"}
    )
    complete(
        db, "hi1", "Task_mark_other", {"him_islem_tarihi": "2026-03-10", "him_cevap_metni": "İZSU'ya yönlendirildi."}
    )
    final = detail(db, instance_id)
    assert final["status"] == "completed" and final["data"]["sonuc"] == "baska_kuruma_gonderildi"


# ---------------------------------------------------------------- the deadline policy's ara cevap (3071 m.7)

INTERIM = "Başvurunuz Fen İşleri Müdürlüğünde incelenmektedir; yol onarımı ihale programına alınmıştır."
# Legal due − 2 business days, when the deadline policy asks the case for an ara cevap: F1 received
# Tue 10 March is due Thu 9 April 17:30 (red Wed 8 April 08:30); the CİMER sevk date Mon 9 March
# gives Wed 8 April 17:30 (red Tue 7 April 08:30); HİM as F1.
RED = {
    "f1_dilekce": datetime(2026, 4, 8, 8, 30, tzinfo=ISTANBUL),
    "f2_cimer": datetime(2026, 4, 7, 8, 30, tzinfo=ISTANBUL),
    "f3_him": datetime(2026, 4, 8, 8, 30, tzinfo=ISTANBUL),
}


def run_policy(db, at: datetime) -> None:
    report = deadlines.run(db, at)
    assert report.failed == {}


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


def to_applicant(db, instance_id: int) -> list[tuple[str, str, str]]:
    """What the case sent the applicant (the policy's staff notifications left out)."""
    return [n for n in outbox(db, instance_id) if n[0] == APPLICANT["basvuran_eposta"]]


def awaited_messages(db, instance_id: int) -> list[str]:
    return sorted({w["name"] for w in detail(db, instance_id)["waiting"] if w["type"] == "message"})


def red_step_opens_the_ara_cevap(db, instance_id: int, red: datetime) -> dict[str, Any]:
    """Run the deadline policy just before and at legal due − 2 business days; the case-level step
    delivers ``ara_cevap_gerekli`` and Özel Kalem gets "Ara cevap hazırla"."""
    assert awaited_messages(db, instance_id) == ["ara_cevap_gerekli", "basvuru_geri_cekildi"]
    run_policy(db, T0)  # the policy starts watching the case (legal due and law from the case data)
    run_policy(db, red - timedelta(minutes=1))
    assert case_step(db, instance_id, "son_2_gun") is None
    assert task_rows(db, instance_id, "Task_ara_cevap_hazirla") == []
    run_policy(db, red)
    step = case_step(db, instance_id, "son_2_gun")
    assert step is not None and step.outcome == "applied"
    assert step.details["message"] == "ara_cevap_gerekli" and step.details["task_created"] is True
    hazirla = only_task(db, "ok.sef", "Task_ara_cevap_hazirla")
    assert hazirla["instance_id"] == instance_id and hazirla["name"] == "Ara cevap hazırla"
    assert hazirla["candidate_groups"] == ["ozel_kalem_muduru", "ozel_kalem_sef"]
    assert hazirla["form_key"] == "basvuru_ara_cevap_hazirla" and hazirla["priority"] == 90
    assert datetime.fromisoformat(hazirla["created_at"]) == red
    assert only_task(db, "ok.mudur", "Task_ara_cevap_hazirla")["id"] == hazirla["id"]
    # Not for the directorate, which goes on with its draft undisturbed; the case no longer waits for
    # the policy (only for a withdrawal, as long as the answer is not signed).
    assert [t["bpmn_id"] for t in open_tasks(db, "fenisleri.memur")] == ["Task_draft"]
    assert awaited_messages(db, instance_id) == ["basvuru_geri_cekildi"]
    return hazirla


def test_f1_ara_cevap_opens_at_legal_due_minus_two_business_days_and_reaches_the_applicant(flows):
    db = flows
    instance_id = register_f1(db)
    assert detail(db, instance_id)["data"]["kanun"] == "3071"
    havale_to_fen(db)  # the case waits on the directorate's draft
    red = RED["f1_dilekce"]
    red_step_opens_the_ara_cevap(db, instance_id, red)
    with clock.frozen_at(red + timedelta(hours=1)):
        with pytest.raises(InvalidInput) as err:
            complete(db, "ok.sef", "Task_ara_cevap_hazirla", {"ara_cevap_verilecek": True})
        assert {"ara_cevap_metni", "ara_cevap_sonuc_tarihi"} <= set(err.value.field_errors)
        complete(
            db,
            "ok.sef",
            "Task_ara_cevap_hazirla",
            {"ara_cevap_verilecek": True, "ara_cevap_metni": INTERIM, "ara_cevap_sonuc_tarihi": "2026-04-30"},
        )
        # E-mailed to the applicant through the outbox, then the written dispatch is recorded.
        assert to_applicant(db, instance_id)[-1] == (
            "ayse@example.com",
            "Başvurunuz hakkında ara bilgi (DLK-2026-000001)",
            INTERIM + "\n\nSonuç en geç 30.04.2026 tarihinde ayrıca bildirilecektir (3071 sayılı Kanun m.7).",
        )
        send = only_task(db, "idari2", "Task_ara_cevap_ilet")
        assert send["candidate_groups"] == ["halkla_iliskiler", "idari_isler", "sekretarya"]
        assert send["form_key"] == "basvuru_ara_cevap_gonderim"
        complete(
            db,
            "idari2",
            "Task_ara_cevap_ilet",
            {"ara_cevap_gonderim_tarihi": "2026-04-08", "ara_cevap_kanali": "e_posta", "ara_cevap_kaniti": "e-posta"},
        )
        assert open_bpmn_ids(db, instance_id) == ["Task_draft"]
        # The main flow then closes as usual, with the final answer.
        answer_through_signature(db)
        assert to_applicant(db, instance_id)[-1] == (
            "ayse@example.com",
            "Başvurunuz cevaplandı (DLK-2026-000001)",
            ANSWER,
        )
        complete(db, "idari1", "Task_send_reply", {"gonderim_tarihi": "2026-04-08", "gonderim_kanali": "e_posta"})
    assert [n[1] for n in to_applicant(db, instance_id)] == [
        "Başvurunuz alındı (DLK-2026-000001)",
        "Başvurunuz hakkında ara bilgi (DLK-2026-000001)",
        "Başvurunuz cevaplandı (DLK-2026-000001)",
    ]
    final = detail(db, instance_id)
    assert final["status"] == "completed" and final["open_tasks"] == []
    data = final["data"]
    assert data["sonuc"] == "cevaplandi" and data["arsiv"]["sonuc"] == "cevaplandi" and data["cevap_metni"] == ANSWER
    record = data["yasal_sure_ara_cevabi"]
    assert record["verildi"] is True and record["metin"] == INTERIM and record["sonuc_tarihi"] == "2026-04-30"
    assert (record["gonderim_tarihi"], record["kanal"], record["eposta_ile"]) == ("2026-04-08", "e_posta", True)
    # The case was not flagged overdue: the final answer went out before the legal due.
    run_policy(db, datetime(2026, 4, 9, 17, 31, tzinfo=ISTANBUL))
    assert case_step(db, instance_id, "gecikti") is None


def test_f1_pending_ara_cevap_is_closed_when_the_final_answer_is_signed(flows):
    db = flows
    instance_id = register_f1(db)
    havale_to_fen(db)
    red = RED["f1_dilekce"]
    red_step_opens_the_ara_cevap(db, instance_id, red)
    with clock.frozen_at(red + timedelta(hours=2)):
        answer_through_signature(db)
        # The final answer is ready: the ara cevap is moot and its task closes; the case is not held open.
        [hazirla] = task_rows(db, instance_id, "Task_ara_cevap_hazirla")
        assert hazirla.state == TaskState.CANCELLED
        assert open_bpmn_ids(db, instance_id) == ["Task_send_reply"]
        complete(db, "idari1", "Task_send_reply", {"gonderim_tarihi": "2026-04-08", "gonderim_kanali": "e_posta"})
    final = detail(db, instance_id)
    assert final["status"] == "completed" and final["data"]["sonuc"] == "cevaplandi"
    assert "yasal_sure_ara_cevabi" not in final["data"]
    assert [t.bpmn_id for t in task_rows(db, instance_id, "Task_ara_cevap_ilet")] == []


def test_f1_case_answered_before_the_red_step_gets_no_ara_cevap_task(flows):
    db = flows
    instance_id = register_f1(db)
    havale_to_fen(db)
    assert awaited_messages(db, instance_id) == ["ara_cevap_gerekli", "basvuru_geri_cekildi"]
    answer_through_signature(db)
    # Signed: only the dispatch is left, so the case no longer waits for the ara cevap message (nor a withdrawal).
    assert awaited_messages(db, instance_id) == []
    run_policy(db, T0)
    run_policy(db, RED["f1_dilekce"])
    step = case_step(db, instance_id, "son_2_gun")
    assert step is not None and step.details["message"] == "ara_cevap_gerekli"
    assert step.details["task_created"] is False
    assert task_rows(db, instance_id, "Task_ara_cevap_hazirla") == []


def test_f2_cimer_ara_cevap_is_entered_in_cimer_by_the_cimer_holder(flows):
    db = flows
    instance_id = start_cimer(db)
    complete(db, "hi1", "Task_register", cimer_register())
    assert detail(db, instance_id)["data"]["kanun"] == "3071"
    havale_to_fen(db)
    red = RED["f2_cimer"]
    red_step_opens_the_ara_cevap(db, instance_id, red)
    with clock.frozen_at(red + timedelta(hours=1)):
        complete(
            db,
            "ok.mudur",
            "Task_ara_cevap_hazirla",
            {"ara_cevap_verilecek": True, "ara_cevap_metni": INTERIM, "ara_cevap_sonuc_tarihi": "2026-04-24"},
        )
        # CİMER answers go through CİMER: no e-mail from Kalem; the CİMER holder records the entry.
        assert to_applicant(db, instance_id) == []
        send = only_task(db, "hi2", "Task_ara_cevap_ilet")
        assert send["candidate_groups"] == ["halkla_iliskiler"]
        assert [t["bpmn_id"] for t in open_tasks(db, "idari1")] == []
        complete(
            db, "hi2", "Task_ara_cevap_ilet", {"ara_cevap_gonderim_tarihi": "2026-04-07", "ara_cevap_kanali": "cimer"}
        )
        answer_through_signature(db)
        complete(db, "hi2", "Task_mark_answered", {"cimer_cevap_tarihi": "2026-04-07", "cimer_kapandi": True})
    final = detail(db, instance_id)
    assert final["status"] == "completed" and final["data"]["sonuc"] == "cevaplandi"
    record = final["data"]["yasal_sure_ara_cevabi"]
    assert (record["verildi"], record["kanal"], record["eposta_ile"]) == (True, "cimer", False)


def test_f3_him_ara_cevap_not_needed_is_recorded_with_its_reason(flows):
    db = flows
    instance_id = start(db, "f3_him", "hi2", business_key="HIM-153-2026-78", data={"him_no": "153-2026-78"})
    complete(
        db,
        "hi2",
        "Task_register",
        {"him_no": "153-2026-78", "him_sevk_tarihi": "2026-03-10", "basvuru_turu": "istek", **CONTENT},
    )
    assert detail(db, instance_id)["data"]["kanun"] == "3071"
    havale_to_fen(db)
    red = RED["f3_him"]
    red_step_opens_the_ara_cevap(db, instance_id, red)
    with clock.frozen_at(red + timedelta(hours=1)):
        with pytest.raises(InvalidInput) as err:
            complete(db, "ok.sef", "Task_ara_cevap_hazirla", {"ara_cevap_verilecek": False})
        assert list(err.value.field_errors) == ["ara_cevap_gerekmeme_nedeni"]
        complete(
            db,
            "ok.sef",
            "Task_ara_cevap_hazirla",
            {"ara_cevap_verilecek": False, "ara_cevap_gerekmeme_nedeni": "nihai_cevap_hazir"},
        )
        assert task_rows(db, instance_id, "Task_ara_cevap_ilet") == []
        assert open_bpmn_ids(db, instance_id) == ["Task_draft"]
        answer_through_signature(db)
        complete(db, "hi1", "Task_mark_answered", {"him_cevap_tarihi": "2026-04-08", "him_kapandi": True})
    final = detail(db, instance_id)
    assert final["status"] == "completed" and final["data"]["sonuc"] == "cevaplandi"
    record = final["data"]["yasal_sure_ara_cevabi"]
    assert (record["verildi"], record["gerekce"]) == (False, "nihai_cevap_hazir")
    assert to_applicant(db, instance_id) == []


# ---------------------------------------------------------------- withdrawal (geri çekme) before the answer

WITHDRAWN = "basvuru_geri_cekildi"


def withdraw(db, business_key: str, payload: Any = None, username: str | None = None) -> None:
    """Deliver the withdrawal as an integration or a user would (``kalem message``, ``POST /api/v1/messages``)."""
    act(db, username, lambda s, a: messages.correlate(s, a, WITHDRAWN, business_key, payload))


def task_states(db, instance_id: int) -> dict[str, str]:
    rows = read(db, lambda s: list(s.scalars(select(HumanTask).where(HumanTask.instance_id == instance_id))))
    return {r.bpmn_id: str(r.state) for r in sorted(rows, key=lambda r: r.id)}


def waiting_timers(db, instance_id: int) -> list[str]:
    return [w["bpmn_id"] for w in detail(db, instance_id)["waiting"] if w["type"] == "timer"]


def correlated(db, instance_id: int) -> list[dict[str, Any]]:
    rows = read(
        db,
        lambda s: list(
            s.scalars(
                select(AuditEvent).where(
                    AuditEvent.instance_id == instance_id, AuditEvent.action == "message.correlated"
                )
            )
        ),
    )
    return [r.details for r in rows]


def audit_chain_verifies(db) -> bool:
    return read(db, audit.verify).ok


def test_f1_withdrawn_while_the_directorate_works(flows):
    db = flows
    instance_id = start(db, "f1_dilekce", "idari1", business_key="DLK-GC-1")
    complete(db, "idari1", "Task_register", F1_REGISTER)
    havale_to_fen(db)
    # The directorate drafts the answer and Özel Kalem has the policy's ara cevap open as well.
    red_step_opens_the_ara_cevap(db, instance_id, RED["f1_dilekce"])
    with clock.frozen_at(RED["f1_dilekce"] + timedelta(hours=1)):
        payload = {"tarih": "2026-04-08", "kanal": "dilekce", "aciklama": "Yol onarıldı, başvurumu geri çekiyorum."}
        withdraw(db, "DLK-GC-1", payload, "idari2")
        # Every open task of the case is cancelled, in the called process and in the ara cevap branch.
        states = task_states(db, instance_id)
        assert (states["Task_draft"], states["Task_ara_cevap_hazirla"]) == ("cancelled", "cancelled")
        assert open_bpmn_ids(db, instance_id) == ["Task_geri_cekme"]
        assert open_tasks(db, "fenisleri.memur") == [] and awaited_messages(db, instance_id) == []
        # Özel Kalem's intake (who registered it) confirms, the payload already on the form.
        confirm = only_task(db, "idari2", "Task_geri_cekme")
        assert confirm["name"] == "Geri çekmeyi kaydet ve ilgilileri bilgilendir"
        assert confirm["candidate_groups"] == ["halkla_iliskiler", "idari_isler", "sekretarya"]
        assert confirm["form_key"] == "basvuru_geri_cekme"
        data = detail(db, instance_id)["data"]
        assert (data["geri_cekme_tarihi"], data["geri_cekme_kanali"], data["geri_cekme_birimi"]) == (
            "2026-04-08",
            "dilekce",
            "fen_isleri",
        )
        assert data["geri_cekme_aciklama"] == payload["aciklama"] and data["sonuc"] == "geri_cekildi"
        with pytest.raises(InvalidInput) as err:
            complete(
                db, "idari2", "Task_geri_cekme", {"geri_cekme_tarihi": "2026-03-09", "geri_cekme_kanali": "dilekce"}
            )
        assert list(err.value.field_errors) == ["geri_cekme_tarihi"]  # before the application reached us
        complete(
            db,
            "idari2",
            "Task_geri_cekme",
            {
                "geri_cekme_tarihi": "2026-04-08",
                "geri_cekme_kanali": "dilekce",
                "geri_cekme_aciklama": payload["aciklama"],
                "mudurluk_notu": "Ekip yönlendirmesini iptal ediniz.",
            },
        )
    # The directorate that had the havale is told through the outbox; the applicant gets nothing more.
    recipient, subject, body = outbox(db, instance_id)[-1]
    assert (recipient, subject) == ("fen_isleri@kalem.local", "Başvuru geri çekildi (DLK-2026-000001)")
    assert body.startswith("DLK-2026-000001 sayılı başvuru (konu: Sokağımızdaki yol çukurlarla dolu)")
    assert "08.04.2026 tarihinde geri çekilmiştir" in body
    assert body.endswith("Özel Kalem notu: Ekip yönlendirmesini iptal ediniz.")
    assert [n[1] for n in to_applicant(db, instance_id)] == ["Başvurunuz alındı (DLK-2026-000001)"]
    final = detail(db, instance_id)
    assert final["status"] == "completed" and final["open_tasks"] == []
    data = final["data"]
    assert data["sonuc"] == "geri_cekildi" and data["arsiv"]["sonuc"] == "geri_cekildi"
    assert data["arsiv"]["sdp_kodu"] == "642.02"
    # What the directorate did stays in the case file.
    assert [h["tur"] for h in data["havale_gecmisi"]] == ["havale", "ic_havale"]
    assert [c["name"] for c in correlated(db, instance_id)] == ["ara_cevap_gerekli", WITHDRAWN]
    assert audit_chain_verifies(db)


def test_f1_withdrawn_before_the_havale_asks_for_what_the_message_lacked(flows):
    db = flows
    instance_id = start(db, "f1_dilekce", "sekreter1", business_key="DLK-GC-2")
    complete(db, "sekreter1", "Task_register", F1_REGISTER)
    withdraw(db, "DLK-GC-2")  # e.g. ``kalem message`` without --data
    assert task_states(db, instance_id)["Task_prereview"] == "cancelled"
    data = detail(db, instance_id)["data"]
    assert [data[k] for k in ("geri_cekme_tarihi", "geri_cekme_kanali", "geri_cekme_birimi")] == [None, None, None]
    with pytest.raises(InvalidInput) as err:
        complete(db, "sekreter1", "Task_geri_cekme", {})
    assert {"geri_cekme_tarihi", "geri_cekme_kanali"} <= set(err.value.field_errors)
    complete(
        db, "sekreter1", "Task_geri_cekme", {"geri_cekme_tarihi": "2026-03-10", "geri_cekme_kanali": "telefon_tutanagi"}
    )
    # No directorate had it: only the receipt ever left.
    assert [n[0] for n in outbox(db, instance_id)] == ["ayse@example.com"]
    final = detail(db, instance_id)
    assert final["status"] == "completed" and final["data"]["sonuc"] == "geri_cekildi"
    assert final["data"]["geri_cekme_kanali"] == "telefon_tutanagi"


def test_f1_withdrawn_while_waiting_for_the_promised_final_answer(flows):
    db = flows
    instance_id = start(db, "f1_dilekce", "idari1", business_key="DLK-GC-3")
    complete(db, "idari1", "Task_register", F1_REGISTER)
    havale_to_fen(db)
    interim = "Yol onarımı ihale programına alınmıştır."
    answer_through_signature(db, {"ara_cevap": True, "beklenen_sonuc_tarihi": "2026-03-30", "cevap_metni": interim})
    complete(
        db, "idari2", "Task_send_interim", {"ara_cevap_gonderim_tarihi": "2026-03-10", "ara_cevap_kanali": "e_posta"}
    )
    assert waiting_timers(db, instance_id) == ["Gw_wait_promised"]
    assert WITHDRAWN in awaited_messages(db, instance_id)
    withdraw(db, "DLK-GC-3", {"tarih": "2026-03-10", "kanal": "e_posta"})
    # The promised-date timer is off; the draft is never re-opened.
    assert waiting_timers(db, instance_id) == []
    assert open_bpmn_ids(db, instance_id) == ["Task_geri_cekme"]
    complete(db, "idari1", "Task_geri_cekme", {"geri_cekme_tarihi": "2026-03-10", "geri_cekme_kanali": "e_posta"})
    assert outbox(db, instance_id)[-1][0:2] == ("fen_isleri@kalem.local", "Başvuru geri çekildi (DLK-2026-000001)")
    assert "Özel Kalem notu" not in outbox(db, instance_id)[-1][2]
    final = detail(db, instance_id)
    assert final["status"] == "completed" and final["data"]["sonuc"] == "geri_cekildi"
    assert [a["metin"] for a in final["data"]["ara_cevap_gecmisi"]] == [interim]
    assert timers.fire_due(db, datetime(2026, 3, 30, 9, 1, tzinfo=ISTANBUL)).fired_instances == []


def test_f1_a_withdrawal_after_the_answer_finds_no_case(flows):
    db = flows
    instance_id = start(db, "f1_dilekce", "idari1", business_key="DLK-GC-4")
    complete(db, "idari1", "Task_register", F1_REGISTER)
    havale_to_fen(db)
    assert WITHDRAWN in awaited_messages(db, instance_id)  # withdrawable while the answer is prepared
    answer_through_signature(db)
    # The signed answer was e-mailed at once; only its dispatch record is left: nothing awaits a withdrawal.
    assert awaited_messages(db, instance_id) == []
    with pytest.raises(NotFound):
        withdraw(db, "DLK-GC-4", {"tarih": "2026-03-10", "kanal": "dilekce"})
    complete(db, "idari1", "Task_send_reply", {"gonderim_tarihi": "2026-03-10", "gonderim_kanali": "e_posta"})
    with pytest.raises(NotFound):
        withdraw(db, "DLK-GC-4", {"tarih": "2026-03-10", "kanal": "dilekce"}, "idari1")
    final = detail(db, instance_id)
    assert final["status"] == "completed" and final["data"]["sonuc"] == "cevaplandi"
    assert correlated(db, instance_id) == []


@pytest.mark.parametrize(
    ("stage", "cancelled", "told"),
    [
        ("on_inceleme", "Task_prereview", []),
        ("havale", "Task_route", []),  # Özel Kalem had not routed it yet
        ("mudurluk", "Task_internal_route", ["fen_isleri@kalem.local"]),
    ],
)
def test_f2_withdrawn_in_cimer_is_closed_and_marked_in_cimer(flows, stage, cancelled, told):
    db = flows
    instance_id = start_cimer(db)
    complete(db, "hi1", "Task_register", cimer_register())
    if stage != "on_inceleme":
        complete(db, "ok.sef", "Task_prereview", {"on_inceleme_karari": "havale"})
    if stage == "mudurluk":
        complete(db, "ok.sef", "Task_route", HAVALE_FEN)
    assert open_bpmn_ids(db, instance_id) == [cancelled]
    withdraw(db, "CIMER-2026000123", {"tarih": "2026-03-10", "kanal": "cimer"}, "hi2")
    assert task_states(db, instance_id)[cancelled] == "cancelled"
    confirm = only_task(db, "hi2", "Task_geri_cekme")
    assert confirm["candidate_groups"] == ["halkla_iliskiler"]
    assert open_tasks(db, "idari1") == [] and open_tasks(db, "fenisleri.mudur") == []
    complete(db, "hi2", "Task_geri_cekme", {"geri_cekme_tarihi": "2026-03-10", "geri_cekme_kanali": "cimer"})
    assert [n[0] for n in outbox(db, instance_id)] == told
    # Like an answer, the withdrawal is entered in CİMER by the CİMER holder before the case closes.
    mark = only_task(db, "hi1", "Task_geri_cekme_isaretle")
    assert mark["name"] == "CİMER'de geri çekildi olarak işaretle" and mark["form_key"] == "f2_cimer_geri_cekildi"
    assert mark["candidate_groups"] == ["halkla_iliskiler"]
    with pytest.raises(InvalidInput) as err:
        complete(
            db, "hi1", "Task_geri_cekme_isaretle", {"cimer_geri_cekme_tarihi": "2026-03-10", "cimer_kapandi": False}
        )
    assert list(err.value.field_errors) == ["cimer_kapandi"]
    complete(db, "hi1", "Task_geri_cekme_isaretle", {"cimer_geri_cekme_tarihi": "2026-03-10", "cimer_kapandi": True})
    final = detail(db, instance_id)
    assert final["status"] == "completed" and final["open_tasks"] == []
    assert final["data"]["sonuc"] == "geri_cekildi" and final["data"]["arsiv"]["sonuc"] == "geri_cekildi"
    assert audit_chain_verifies(db)


def test_f3_withdrawn_before_the_answer_is_entered_in_him(flows):
    db = flows
    instance_id = start(db, "f3_him", "hi2", business_key="HIM-153-2026-90", data={"him_no": "153-2026-90"})
    register = {"him_no": "153-2026-90", "him_sevk_tarihi": "2026-03-10", "basvuru_turu": "istek", **CONTENT}
    complete(db, "hi2", "Task_register", register)
    havale_to_fen(db)
    answer_through_signature(db)
    # Signed but not yet entered in HİM: the applicant withdrew there first.
    assert open_bpmn_ids(db, instance_id) == ["Task_mark_answered"]
    withdraw(db, "HIM-153-2026-90", {"tarih": "2026-03-10", "kanal": "him", "aciklama": "HİM'den geri çekildi."})
    assert task_states(db, instance_id)["Task_mark_answered"] == "cancelled"
    complete(db, "hi1", "Task_geri_cekme", {"geri_cekme_tarihi": "2026-03-10", "geri_cekme_kanali": "him"})
    assert [n[0] for n in outbox(db, instance_id)] == ["fen_isleri@kalem.local"]
    mark = only_task(db, "hi1", "Task_geri_cekme_isaretle")
    assert mark["name"] == "HİM'de geri çekildi olarak işaretle" and mark["form_key"] == "f3_him_geri_cekildi"
    complete(db, "hi1", "Task_geri_cekme_isaretle", {"him_geri_cekme_tarihi": "2026-03-10", "him_kapandi": True})
    final = detail(db, instance_id)
    assert final["status"] == "completed" and final["data"]["sonuc"] == "geri_cekildi"
    assert final["data"]["cevap_metni"] == ANSWER  # the unsent answer stays in the case file
    with pytest.raises(NotFound):
        withdraw(db, "HIM-153-2026-90", {"tarih": "2026-03-10", "kanal": "him"})


# ---------------------------------------------------------------- görüş (opinions of other directorates)

ZABITA_GORUS = {"gorus_metni": "Sokakta kaçak kazı tespit edilmedi; işgal yok.", "gorus_veren": "Zabıta Amiri"}
MALI_GORUS = {"gorus_metni": "Onarım 2026 bütçesinin yol bakım kaleminden karşılanabilir.", "gorus_veren": "Mali Müdür"}


def havale_with_opinions(db, units: list[str]) -> None:
    complete(db, "ok.sef", "Task_prereview", {"on_inceleme_karari": "havale"})
    complete(db, "ok.sef", "Task_route", {**HAVALE_FEN, "gorus_birimleri": units})
    complete(
        db,
        "fenisleri.mudur",
        "Task_internal_route",
        {"ic_havale_karari": "kabul", "atama_sekli": "kisi", "sorumlu_personel": "fenisleri.memur"},
    )


def opinion_tasks(db, username: str) -> list[dict[str, Any]]:
    return [t for t in open_tasks(db, username) if t["bpmn_id"] == "Task_gorus"]


def test_f1_opinions_of_two_directorates_run_in_parallel_and_reach_the_draft(flows):
    db = flows
    instance_id = register_f1(db)
    havale_with_opinions(db, ["zabita", "mali_hizmetler"])
    # One "Görüş ver" task per directorate, each seen only by its own staff, due in 5 business days.
    [zabita] = opinion_tasks(db, "zabita.memur")
    [mali] = opinion_tasks(db, "malihizmetler.memur")
    assert zabita["id"] != mali["id"]
    assert (zabita["name"], zabita["form_key"], zabita["candidate_groups"]) == (
        "Görüş ver",
        "basvuru_gorus",
        ["zabita"],
    )
    assert mali["candidate_groups"] == ["mali_hizmetler"]
    assert due_local(zabita) == due_local(mali) == "2026-03-17T17:30:00+03:00"
    assert opinion_tasks(db, "fenisleri.memur") == [] and opinion_tasks(db, "idari1") == []
    # The gereği directorate drafts once every opinion is in.
    assert sorted(open_bpmn_ids(db, instance_id)) == ["Task_gorus", "Task_gorus"]
    with pytest.raises(InvalidInput) as err:
        complete(db, "zabita.memur", "Task_gorus", {"gorus_veren": "Zabıta Amiri"})
    assert list(err.value.field_errors) == ["gorus_metni"]
    with pytest.raises(InvalidInput) as err:
        complete(db, "zabita.memur", "Task_gorus", {**ZABITA_GORUS, "gorus_metni": "x" * 5001})
    assert list(err.value.field_errors) == ["gorus_metni"]
    complete(db, "zabita.memur", "Task_gorus", ZABITA_GORUS)
    assert open_bpmn_ids(db, instance_id) == ["Task_gorus"] and opinion_tasks(db, "zabita.memur") == []
    complete(db, "malihizmetler.memur", "Task_gorus", MALI_GORUS)

    draft = only_task(db, "fenisleri.memur", "Task_draft")
    assert draft["candidate_groups"] == ["fen_isleri"]
    data = detail(db, instance_id)["data"]
    assert [(g["birim"], g["gorus"], g["veren"]) for g in data["gorusler"]] == [
        ("zabita", ZABITA_GORUS["gorus_metni"], "Zabıta Amiri"),
        ("mali_hizmetler", MALI_GORUS["gorus_metni"], "Mali Müdür"),
    ]
    assert all(g["tarih"].startswith("2026-03-10T09:00") for g in data["gorusler"])

    # A revision loops back to the draft only: the opinions are not asked again.
    complete(db, "fenisleri.memur", "Task_draft", FINAL)
    complete(db, "fenisleri.mudur", "Task_initials", {"paraf_karari": "parafla"})
    complete(db, "ok.sef", "Task_ok_review", {"kontrol_karari": "revizyon", "kontrol_notu": "Görüşlere değininiz."})
    assert open_bpmn_ids(db, instance_id) == ["Task_draft"]
    answer_through_signature(db)
    complete(db, "idari1", "Task_send_reply", {"gonderim_tarihi": "2026-03-10", "gonderim_kanali": "e_posta"})
    final = detail(db, instance_id)
    assert final["status"] == "completed" and final["open_tasks"] == []
    data = final["data"]
    assert data["sonuc"] == "cevaplandi" and len(data["gorusler"]) == 2
    assert [h["tur"] for h in data["havale_gecmisi"]] == ["havale", "ic_havale", "gorus", "gorus"]
    assert data["havale_gecmisi"][0]["gorus_birimleri"] == ["zabita", "mali_hizmetler"]


def test_f1_without_opinion_units_goes_straight_to_the_draft(flows):
    db = flows
    instance_id = register_f1(db)
    havale_with_opinions(db, [])
    assert open_bpmn_ids(db, instance_id) == ["Task_draft"]
    assert opinion_tasks(db, "zabita.memur") == []
    assert detail(db, instance_id)["data"]["gorusler"] == []


def test_opinion_of_the_gereği_directorate_itself_is_refused_at_havale(flows):
    db = flows
    instance_id = register_f1(db)
    complete(db, "ok.sef", "Task_prereview", {"on_inceleme_karari": "havale"})
    with pytest.raises(InvalidInput) as err:
        complete(db, "ok.sef", "Task_route", {**HAVALE_FEN, "gorus_birimleri": ["zabita", "fen_isleri"]})
    assert list(err.value.field_errors) == ["gorus_birimleri"]
    assert "görüş istenemez" in str(err.value.field_errors["gorus_birimleri"])
    assert open_bpmn_ids(db, instance_id) == ["Task_route"]


def test_returned_havale_asks_for_no_opinion_and_clears_the_units(flows):
    db = flows
    instance_id = register_f1(db)
    complete(db, "ok.sef", "Task_prereview", {"on_inceleme_karari": "havale"})
    complete(db, "ok.sef", "Task_route", {**HAVALE_FEN, "gorus_birimleri": ["zabita"]})
    complete(
        db,
        "fenisleri.mudur",
        "Task_internal_route",
        {"ic_havale_karari": "iade", "iade_gerekcesi": "Konu müdürlüğümüzün görev alanı dışındadır."},
    )
    assert open_bpmn_ids(db, instance_id) == ["Task_route"] and opinion_tasks(db, "zabita.memur") == []
    assert detail(db, instance_id)["data"]["gorus_birimleri"] == []


def test_f1_withdrawn_while_opinions_are_pending(flows):
    db = flows
    instance_id = start(db, "f1_dilekce", "idari1", business_key="DLK-GC-9")
    complete(db, "idari1", "Task_register", F1_REGISTER)
    havale_with_opinions(db, ["zabita", "mali_hizmetler"])
    complete(db, "zabita.memur", "Task_gorus", ZABITA_GORUS)
    withdraw(db, "DLK-GC-9", {"tarih": "2026-03-10", "kanal": "dilekce"}, "idari2")
    assert opinion_tasks(db, "malihizmetler.memur") == []
    assert open_bpmn_ids(db, instance_id) == ["Task_geri_cekme"]
    complete(db, "idari2", "Task_geri_cekme", {"geri_cekme_tarihi": "2026-03-10", "geri_cekme_kanali": "dilekce"})
    final = detail(db, instance_id)
    assert final["status"] == "completed" and final["data"]["sonuc"] == "geri_cekildi"
