"""F8 — davetiye (processes/davetiye): registration, presentation to the Başkan and his decision,
calendar and RSVP, then by decision a representative, a message or flowers/wreath through F9, and
closing after the event; escalation to the Özel Kalem Müdürü when still undecided near the RSVP date."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from factories import act, deploy_flow, only_task, open_tasks, read, start
from sqlalchemy import select

from engine import clock, instances, tasks, timers
from engine.errors import Conflict, InvalidInput, NotAllowed, NotFound
from engine.models import Notification

KEY = "f8_davetiye"
IST = ZoneInfo("Europe/Istanbul")
# Monday 5 April 2027, 10:00 in Istanbul; the event is on Friday 16 April, 19:00.
MONDAY = datetime(2027, 4, 5, 10, 0, tzinfo=IST)
INVITATION = {
    "davet_eden": "İzmir Ticaret Odası",
    "etkinlik_adi": "Yeni hizmet binası açılışı",
    "etkinlik_zamani": "2027-04-16T19:00:00+03:00",
    "etkinlik_yeri": "Alsancak, İzmir",
    "lcv_son_tarih": "2027-04-13",
    "kiyafet": "Resmî",
}


def at(day: int, hour: int, minute: int = 0, second: int = 0) -> datetime:
    return datetime(2027, 4, day, hour, minute, second, tzinfo=IST)


def complete(db, username: str, task_id: int, data: dict) -> None:
    act(db, username, lambda s, a: tasks.complete(s, a, task_id, data))


def show(db, instance_id: int) -> dict:
    return act(db, None, lambda s, a: instances.show(s, a, instance_id).as_dict())


def outbox(db) -> list[tuple[str, str]]:
    return read(
        db, lambda s: [(n.recipient, n.subject) for n in s.scalars(select(Notification).order_by(Notification.id))]
    )


def mine(db, username: str, instance_id: int) -> list[str]:
    return [t["bpmn_id"] for t in open_tasks(db, username) if t["instance_id"] == instance_id]


def registered(db, invitation: dict | None = None, business_key: str = "DVT-1") -> int:
    deploy_flow(db, "davetiye", "celenk_tebrik")
    with clock.frozen_at(MONDAY):
        instance_id = start(db, KEY, username="sekreter1", business_key=business_key)
        kayit = only_task(db, "sekreter2", "Task_kayit")
        assert sorted(kayit["candidate_groups"]) == ["idari_isler", "sekretarya"]
        complete(db, "sekreter2", kayit["id"], invitation or INVITATION)
    return instance_id


def decided(db, decision: dict, when: datetime = MONDAY, **kwargs) -> int:
    """Registered, presented by the Özel Kalem Müdürü, decided by the Başkan, calendar and RSVP done."""
    instance_id = registered(db, **kwargs)
    with clock.frozen_at(when):
        present_and_decide(db, decision)
        lcv = only_task(db, "sekreter1", "Task_lcv")
        complete(db, "sekreter1", lcv["id"], {"takvime_islendi": True, "lcv_kanali": "telefon"})
    return instance_id


def present_and_decide(db, decision: dict) -> None:
    sunus = only_task(db, "ok.mudur2", "Task_sunus")
    assert sunus["candidate_groups"] == ["ozel_kalem_muduru"]
    complete(db, "ok.mudur2", sunus["id"], {"sunus_onerisi": "katilim", "sunus_notu": "Oda başkanı bizzat davet etti."})
    karar = only_task(db, "baskan", "Task_karar")
    assert karar["candidate_groups"] == ["baskan"]
    complete(db, "baskan", karar["id"], decision)


def close(db, instance_id: int, result: str) -> dict:
    """The closing task appears at 09:00 on the first business day after the event (Monday 19 April)."""
    assert timers.fire_due(db, at(19, 8, 59)).fired_instances == []
    assert timers.fire_due(db, at(19, 9, 0, 1)).fired_instances == [instance_id]
    kapanis = only_task(db, "sekreter2", "Task_kapanis")
    with clock.frozen_at(at(19, 9, 30)):
        complete(db, "sekreter2", kapanis["id"], {"kapanis_sonucu": result})
    detail = show(db, instance_id)
    assert detail["status"] == "completed" and detail["waiting"] == []
    assert detail["data"]["sonuc"] == result
    return detail


def test_accepted_invitation_goes_to_the_calendar_and_closes_after_the_event(db) -> None:
    instance_id = registered(db)
    detail = show(db, instance_id)
    assert detail["data"]["kayit_no"] == "DVT-2027-000001"
    # Undecided two business days before the RSVP date (Tuesday 13th): Friday 9th, 09:00.
    assert detail["data"]["eskalasyon_zamani"] == "2027-04-09T09:00:00+03:00"
    assert [w["fire_at"] for w in detail["waiting"]] == ["2027-04-09T06:00:00+00:00"]
    assert mine(db, "sekreter1", instance_id) == [] and mine(db, "baskan", instance_id) == []
    with clock.frozen_at(MONDAY):
        present_and_decide(db, {"baskan_karari": "katilacak"})
        lcv = only_task(db, "sekreter1", "Task_lcv")
        with pytest.raises(InvalidInput) as err:
            complete(db, "sekreter1", lcv["id"], {"takvime_islendi": False, "lcv_kanali": "telefon"})
        assert set(err.value.field_errors) == {"takvime_islendi"}
        complete(db, "sekreter1", lcv["id"], {"takvime_islendi": True, "lcv_kanali": "e_posta"})
    detail = show(db, instance_id)
    assert detail["open_tasks"] == []
    assert [w["bpmn_id"] for w in detail["waiting"]] == ["Timer_kapanis"]
    # Decided in time: the escalation timer went away with the decision.
    assert timers.fire_due(db, at(9, 9, 1)).fired_instances == []
    detail = close(db, instance_id, "katilindi")
    assert detail["data"]["baskan_karari"] == "katilacak"
    assert outbox(db) == []


@pytest.mark.parametrize(
    ("lcv", "escalation_utc"),
    [
        ("2027-04-13", "2027-04-09T06:00:00+00:00"),  # 2 business days before the RSVP date, 09:00
        (None, "2027-04-13T16:00:00+00:00"),  # no RSVP date: 3 days before the event
        ("2027-04-16", "2027-04-13T16:00:00+00:00"),  # RSVP on the event day: 3 days before the event is earlier
    ],
)
def test_undecided_invitation_escalates_to_the_ozel_kalem_muduru(db, lcv: str | None, escalation_utc: str) -> None:
    invitation = {k: v for k, v in {**INVITATION, "lcv_son_tarih": lcv}.items() if v is not None}
    instance_id = registered(db, invitation)
    sunus = only_task(db, "ok.mudur", "Task_sunus")
    moment = datetime.fromisoformat(escalation_utc)
    assert [w["fire_at"] for w in show(db, instance_id)["waiting"]] == [escalation_utc]
    assert timers.fire_due(db, moment - timedelta(minutes=1)).fired_instances == []
    assert timers.fire_due(db, moment + timedelta(seconds=1)).fired_instances == [instance_id]
    assert outbox(db) == [
        ("ozel_kalem_muduru@kalem.local", "Davetiye kararı bekleniyor: Yeni hizmet binası açılışı (DVT-2027-000001)")
    ]
    # Non-interrupting: the presentation is still open and the flow goes on.
    assert only_task(db, "ok.mudur", "Task_sunus")["id"] == sunus["id"]
    with clock.frozen_at(moment):
        present_and_decide(db, {"baskan_karari": "katilmayacak"})
        complete(
            db,
            "sekreter1",
            only_task(db, "sekreter1", "Task_lcv")["id"],
            {"takvime_islendi": False, "lcv_kanali": "telefon"},
        )
    close(db, instance_id, "katilinmadi")
    assert len(outbox(db)) == 1


def test_flowers_or_wreath_are_sent_through_f9_with_the_chosen_type(db) -> None:
    instance_id = decided(db, {"baskan_karari": "cicek_celenk", "cicek_celenk_turu": "celenk"})
    talep = only_task(db, "protokol1", "Task_talep")
    assert talep["instance_id"] == instance_id and talep["process_key"] == KEY
    assert show(db, instance_id)["data"]["onerilen_tur"] == "celenk"
    wreath = {
        "alici": "İzmir Ticaret Odası",
        "adres": "Alsancak, İzmir",
        "teslim_zamani": "2027-04-16T17:00:00+03:00",
        "kart_metni": "Belediye Başkanı Ahmet Yılmaz",
        "tahmini_tutar": "2500.00",
    }
    with clock.frozen_at(MONDAY):
        with pytest.raises(InvalidInput) as err:
            complete(db, "protokol1", talep["id"], {"tur": "cicek", **wreath})
        assert set(err.value.field_errors) == {"tur"}
        complete(db, "protokol1", talep["id"], {"tur": "celenk", **wreath})
        complete(db, "ok.mudur", only_task(db, "ok.mudur", "Task_onay")["id"], {"onay_karari": "onayla"})
    gonderim = only_task(db, "protokol2", "Task_gonderim")
    assert gonderim["due_at"] == "2027-04-16T14:00:00+00:00"
    # The called process's own timers run inside the invitation case.
    assert timers.fire_due(db, at(15, 17, 0, 1)).fired_instances == [instance_id]
    assert outbox(db) == [("protokol@kalem.local", "Gönderime 24 saat kaldı: İzmir Ticaret Odası")]
    with clock.frozen_at(at(16, 9)):
        complete(
            db,
            "protokol2",
            gonderim["id"],
            {
                "gonderim_sonucu": "gonderildi",
                "gonderim_yolu": "firma_siparisi",
                "gonderim_zamani": "2027-04-16T09:00:00+03:00",
            },
        )
    data = show(db, instance_id)["data"]
    assert data["celenk_tebrik_sonucu"] == "gonderildi"
    assert (data["kaynak"], data["ilgili_kayit"], data["f6_aktarilacak_tutar"]) == ("F8", "DVT-2027-000001", "2500.00")
    close(db, instance_id, "katilinmadi")


def test_a_message_cancelled_in_f9_is_recorded_and_the_invitation_still_closes(db) -> None:
    instance_id = decided(db, {"baskan_karari": "mesaj", "mesaj_turu": "telgraf"})
    talep = only_task(db, "idari2", "Task_talep")
    with clock.frozen_at(MONDAY):
        complete(
            db,
            "idari2",
            talep["id"],
            {
                "tur": "telgraf",
                "alici": "İzmir Ticaret Odası",
                "adres": "Alsancak, İzmir",
                "kart_metni": "Başarılar dileriz.",
            },
        )
        onay = only_task(db, "ok.mudur", "Task_onay")
        complete(db, "ok.mudur", onay["id"], {"onay_karari": "iptal", "onay_notu": "Telefonla tebrik edildi."})
    data = show(db, instance_id)["data"]
    assert data["celenk_tebrik_sonucu"] == "iptal"
    close(db, instance_id, "katilinmadi")


def test_a_named_deputy_mayor_represents_the_baskan(db) -> None:
    instance_id = decided(
        db, {"baskan_karari": "temsilci", "temsilci_birimi": "baskan_yardimcisi", "temsilci_kullanici": "by.kaya"}
    )
    assert outbox(db) == [("by.kaya@kalem.local", "Başkanı temsilen davet: Yeni hizmet binası açılışı")]
    temsil = only_task(db, "by.kaya", "Task_temsil")
    assert temsil["assignee"] == "by.kaya" and temsil["due_at"] == "2027-04-16T16:00:00+00:00"
    assert mine(db, "by.demir", instance_id) == []
    with pytest.raises(Conflict):  # the other deputy mayor may see it, but it is by.kaya's
        complete(db, "by.demir", temsil["id"], {"temsil_yaniti": "katilacagim"})
    complete(db, "by.kaya", temsil["id"], {"temsil_yaniti": "katilacagim"})
    close(db, instance_id, "temsil_edildi")


def test_a_directorate_head_who_cannot_go_sends_it_back_to_the_baskan(db) -> None:
    instance_id = decided(db, {"baskan_karari": "temsilci", "temsilci_birimi": "fen_isleri"})
    assert outbox(db) == [("fen_isleri@kalem.local", "Başkanı temsilen davet: Yeni hizmet binası açılışı")]
    temsil = only_task(db, "fenisleri.mudur", "Task_temsil")
    assert temsil["candidate_groups"] == ["fen_isleri/yonetici"] and temsil["assignee"] is None
    assert mine(db, "fenisleri.memur", instance_id) == []  # the clerk of the directorate is not its head
    assert mine(db, "zabita.mudur", instance_id) == []
    with pytest.raises(InvalidInput) as err:
        complete(db, "fenisleri.mudur", temsil["id"], {"temsil_yaniti": "katilamiyorum"})
    assert set(err.value.field_errors) == {"temsil_notu"}
    complete(db, "fenisleri.mudur", temsil["id"], {"temsil_yaniti": "katilamiyorum", "temsil_notu": "Yurt dışındayım."})
    with clock.frozen_at(at(6, 10)):
        present_and_decide(db, {"baskan_karari": "katilmayacak"})
        complete(
            db,
            "sekreter1",
            only_task(db, "sekreter1", "Task_lcv")["id"],
            {"takvime_islendi": False, "lcv_kanali": "e_posta"},
        )
    data = close(db, instance_id, "katilinmadi")["data"]
    # The second decision replaced the first one's representative.
    assert data["temsilci_birimi"] is None and data["baskan_karari"] == "katilmayacak"


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"etkinlik_zamani": "2027-04-05T09:00:00+03:00"}, "etkinlik_zamani"),
        ({"etkinlik_zamani": "yarın akşam"}, "etkinlik_zamani"),
        ({"lcv_son_tarih": "2027-04-17"}, "lcv_son_tarih"),
        ({"davet_eden": None}, "davet_eden"),
        ({"etkinlik_yeri": None}, "etkinlik_yeri"),
        ({"etkinlik_adi": "x" * 251}, "etkinlik_adi"),
    ],
)
def test_invalid_invitations_are_refused_naming_the_field(db, overrides: dict, field: str) -> None:
    deploy_flow(db, "davetiye", "celenk_tebrik")
    invitation = {k: v for k, v in {**INVITATION, **overrides}.items() if v is not None}
    with clock.frozen_at(MONDAY):
        instance_id = start(db, KEY, username="idari1", business_key="DVT-9")
        kayit = only_task(db, "idari1", "Task_kayit")
        with pytest.raises(InvalidInput) as err:
            complete(db, "idari1", kayit["id"], invitation)
    assert field in err.value.field_errors
    assert mine(db, "idari1", instance_id) == ["Task_kayit"]


@pytest.mark.parametrize(
    ("decision", "field"),
    [
        ({"baskan_karari": "temsilci"}, "temsilci_birimi"),
        (
            {"baskan_karari": "temsilci", "temsilci_birimi": "baskan_yardimcisi", "temsilci_kullanici": "Ali Veli"},
            "temsilci_kullanici",
        ),
        ({"baskan_karari": "cicek_celenk"}, "cicek_celenk_turu"),
        ({"baskan_karari": "cicek_celenk", "cicek_celenk_turu": "pasta"}, "cicek_celenk_turu"),
        ({"baskan_karari": "mesaj"}, "mesaj_turu"),
        ({"baskan_karari": "belki"}, "baskan_karari"),
    ],
)
def test_invalid_decisions_are_refused_naming_the_field(db, decision: dict, field: str) -> None:
    instance_id = registered(db)
    with clock.frozen_at(MONDAY):
        complete(db, "ok.mudur", only_task(db, "ok.mudur", "Task_sunus")["id"], {"sunus_onerisi": "mesaj"})
        karar = only_task(db, "baskan", "Task_karar")
        with pytest.raises(InvalidInput) as err:
            complete(db, "baskan", karar["id"], decision)
    assert field in err.value.field_errors
    assert mine(db, "baskan", instance_id) == ["Task_karar"]


def test_a_directorate_clerk_sees_none_of_these_tasks(db) -> None:
    instance_id = registered(db)
    sunus = only_task(db, "ok.mudur", "Task_sunus")
    for outsider in ("fenisleri.memur", "zabita.memur", "protokol1", "sekreter1", "baskan"):
        assert mine(db, outsider, instance_id) == []
    with pytest.raises(NotFound):
        act(db, "fenisleri.memur", lambda s, a: tasks.show(s, a, sunus["id"]))
    with pytest.raises(NotFound):
        act(db, "fenisleri.memur", lambda s, a: instances.show(s, a, instance_id))
    with pytest.raises((NotFound, NotAllowed)):
        complete(db, "sekreter1", sunus["id"], {"sunus_onerisi": "katilim"})
    with clock.frozen_at(MONDAY):
        complete(db, "ok.mudur", sunus["id"], {"sunus_onerisi": "katilim"})
    karar = only_task(db, "baskan.vekili", "Task_karar")  # the acting Mayor holds the baskan group too
    with pytest.raises((NotFound, NotAllowed)):
        complete(db, "ok.mudur", karar["id"], {"baskan_karari": "katilacak"})
