"""F9 — çelenk, çiçek, tebrik, taziye, teşekkür (processes/celenk_tebrik): request, approval by the
Özel Kalem Müdürü (and by the Başkan when the DMN policy says so), sending by Protokol against the
delivery deadline with warnings 24 h and 3 h before and a notice to the Müdür when it passes."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from factories import act, deploy_flow, only_task, open_tasks, read, start
from sqlalchemy import select

from engine import clock, instances, tasks, timers
from engine.errors import InvalidInput, NotAllowed, NotFound
from engine.models import Notification

KEY = "f9_celenk_tebrik"
IST = ZoneInfo("Europe/Istanbul")
# Monday 5 April 2027, 10:00 in Istanbul: a plain business week (no holiday before the 23rd).
MONDAY = datetime(2027, 4, 5, 10, 0, tzinfo=IST)


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


def request(**overrides) -> dict:
    values = {
        "tur": "cicek",
        "alici": "Ege Üniversitesi Rektörlüğü",
        "adres": "Bornova, İzmir",
        "teslim_zamani": "2027-04-07T14:00:00+03:00",
        "kart_metni": "Yeni hizmet binanız hayırlı olsun.",
        "tahmini_tutar": "1500.00",
    }
    values.update(overrides)
    return {k: v for k, v in values.items() if v is not None}


def started(db, business_key: str = "CLK-1", username: str = "protokol1", data: dict | None = None) -> int:
    deploy_flow(db, "celenk_tebrik")
    with clock.frozen_at(MONDAY):
        return start(db, KEY, username=username, business_key=business_key, data=data)


def approved(db, **overrides) -> int:
    """A request filled in and approved by the Özel Kalem Müdürü on Monday morning."""
    instance_id = started(db)
    with clock.frozen_at(MONDAY):
        complete(db, "protokol1", only_task(db, "protokol1", "Task_talep")["id"], request(**overrides))
        complete(db, "ok.mudur2", only_task(db, "ok.mudur2", "Task_onay")["id"], {"onay_karari": "onayla"})
    return instance_id


def test_flowers_are_sent_with_warnings_24_and_3_hours_before_delivery(db) -> None:
    instance_id = started(db)
    talep = only_task(db, "idari1", "Task_talep")
    assert sorted(talep["candidate_groups"]) == ["idari_isler", "protokol"]
    with clock.frozen_at(MONDAY):
        complete(db, "protokol1", talep["id"], request())
    onay = only_task(db, "ok.mudur2", "Task_onay")
    assert onay["candidate_groups"] == ["ozel_kalem_muduru"]
    assert [t for t in open_tasks(db, "protokol1") if t["instance_id"] == instance_id] == []
    with clock.frozen_at(MONDAY):
        complete(db, "ok.mudur2", onay["id"], {"onay_karari": "onayla"})

    detail = show(db, instance_id)
    assert detail["data"]["baskan_onayi_gerekli"] is False
    gonderim = only_task(db, "protokol2", "Task_gonderim")
    assert gonderim["candidate_groups"] == ["protokol"]
    # The deadline is the delivery time: Wednesday 14:00 in Istanbul.
    assert gonderim["due_at"] == "2027-04-07T11:00:00+00:00"
    assert [t for t in open_tasks(db, "idari1") if t["instance_id"] == instance_id] == []
    fire_at = sorted(w["fire_at"] for w in detail["waiting"] if w["type"] == "timer")
    assert fire_at == ["2027-04-06T11:00:00+00:00", "2027-04-07T08:00:00+00:00", "2027-04-07T11:00:00+00:00"]

    assert timers.fire_due(db, at(6, 13, 59)).fired_instances == []
    assert timers.fire_due(db, at(6, 14, 0, 1)).fired_instances == [instance_id]
    assert outbox(db) == [("protokol@kalem.local", "Gönderime 24 saat kaldı: Ege Üniversitesi Rektörlüğü")]
    assert only_task(db, "protokol1", "Task_gonderim")["id"] == gonderim["id"]  # non-interrupting

    assert timers.fire_due(db, at(7, 11, 0, 1)).fired_instances == [instance_id]
    assert outbox(db)[-1] == ("protokol@kalem.local", "Gönderime 3 saat kaldı: Ege Üniversitesi Rektörlüğü")

    with clock.frozen_at(at(7, 11, 30)):
        complete(
            db,
            "protokol1",
            gonderim["id"],
            {
                "gonderim_sonucu": "gonderildi",
                "gonderim_yolu": "firma_siparisi",
                "gonderim_zamani": "2027-04-07T11:30:00+03:00",
                "tedarikci": "Bornova Çiçekçilik",
                "gerceklesen_tutar": "1450.00",
            },
        )
    detail = show(db, instance_id)
    assert detail["status"] == "completed" and detail["waiting"] == []
    assert detail["data"]["sonuc"] == "gonderildi"
    assert detail["data"]["f6_aktarilacak_tutar"] == "1450.00"
    assert detail["data"]["f6_aktarim_durumu"] == "bekliyor"
    # The deadline timer went with the task: nothing fires afterwards, no notice to the Müdür.
    assert timers.fire_due(db, at(9, 9)).fired_instances == []
    assert len(outbox(db)) == 2


def test_passing_the_delivery_time_notifies_the_mudur_and_protokol_may_still_cancel(db) -> None:
    instance_id = approved(db, tur="celenk", tahmini_tutar=None)
    gonderim = only_task(db, "protokol1", "Task_gonderim")
    assert timers.fire_due(db, at(7, 14, 0, 1)).fired_instances == [instance_id]
    assert [r for r, _s in outbox(db)] == [
        "protokol@kalem.local",
        "protokol@kalem.local",
        "ozel_kalem_muduru@kalem.local",
    ]
    assert outbox(db)[-1][1] == "Teslim zamanı geçti, gönderim yapılmadı: Ege Üniversitesi Rektörlüğü"
    assert only_task(db, "protokol1", "Task_gonderim")["id"] == gonderim["id"]
    with pytest.raises(InvalidInput) as err:
        complete(db, "protokol1", gonderim["id"], {"gonderim_sonucu": "iptal"})
    assert set(err.value.field_errors) == {"iptal_gerekcesi"}
    complete(db, "protokol1", gonderim["id"], {"gonderim_sonucu": "iptal", "iptal_gerekcesi": "Firma teslim edemedi."})
    detail = show(db, instance_id)
    assert detail["status"] == "completed"
    assert detail["data"]["sonuc"] == "iptal" and detail["data"]["f6_aktarilacak_tutar"] is None


def test_letter_without_delivery_time_is_due_two_business_days_after_approval(db) -> None:
    instance_id = approved(db, tur="tebrik_yazisi", adres=None, teslim_zamani=None, tahmini_tutar=None)
    gonderim = only_task(db, "protokol1", "Task_gonderim")
    assert gonderim["due_at"] == "2027-04-07T14:30:00+00:00"  # Wednesday 17:30
    complete(
        db,
        "protokol2",
        gonderim["id"],
        {"gonderim_sonucu": "gonderildi", "gonderim_yolu": "ebys", "gonderim_zamani": "2027-04-06T10:00:00+03:00"},
    )
    data = show(db, instance_id)["data"]
    assert data["sonuc"] == "gonderildi"
    assert data["f6_aktarilacak_tutar"] is None and data["f6_aktarim_durumu"] == "gerekmiyor"


def test_correction_loop_then_cancellation_by_the_mudur(db) -> None:
    instance_id = started(db)
    with clock.frozen_at(MONDAY):
        first = only_task(db, "idari1", "Task_talep")
        complete(db, "idari1", first["id"], request())
        onay = only_task(db, "ok.mudur", "Task_onay")
        with pytest.raises(InvalidInput) as err:
            complete(db, "ok.mudur", onay["id"], {"onay_karari": "duzeltme"})
        assert set(err.value.field_errors) == {"onay_notu"}
        complete(db, "ok.mudur", onay["id"], {"onay_karari": "duzeltme", "onay_notu": "Kart metni kısaltılsın."})
        again = only_task(db, "protokol1", "Task_talep")
        assert again["id"] != first["id"]  # a new task for the corrected request
        complete(db, "protokol1", again["id"], request(tahmini_tutar=None, kart_metni="Tebrikler."))
        assert show(db, instance_id)["data"]["tahmini_tutar"] is None  # the old amount does not survive
        complete(
            db,
            "ok.mudur",
            only_task(db, "ok.mudur", "Task_onay")["id"],
            {"onay_karari": "iptal", "onay_notu": "Gerek yok."},
        )
    detail = show(db, instance_id)
    assert detail["status"] == "completed" and detail["data"]["sonuc"] == "iptal"
    assert detail["waiting"] == [] and outbox(db) == []


@pytest.mark.parametrize(("decision", "outcome"), [("onayla", "Task_gonderim"), ("iptal", None)])
def test_an_expensive_wreath_needs_the_baskan(db, decision: str, outcome: str | None) -> None:
    instance_id = approved(db, tur="celenk", tahmini_tutar="12500.00")
    data = show(db, instance_id)["data"]
    assert data["baskan_onayi_gerekli"] is True
    assert data["baskan_onayi_gerekcesi"] == "Tahmini tutar 10.000 TL'yi aşıyor."
    assert [t for t in open_tasks(db, "ok.mudur2") if t["instance_id"] == instance_id] == []
    karar = only_task(db, "baskan", "Task_baskan_onay")
    assert karar["candidate_groups"] == ["baskan"]
    with clock.frozen_at(MONDAY):
        complete(db, "baskan", karar["id"], {"baskan_onay_karari": decision})
    if outcome:
        assert only_task(db, "protokol1", "Task_gonderim")["due_at"] == "2027-04-07T11:00:00+00:00"
    else:
        detail = show(db, instance_id)
        assert detail["status"] == "completed" and detail["data"]["sonuc"] == "iptal"


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"adres": None}, "adres"),
        ({"tur": "telgraf", "adres": None, "teslim_zamani": None}, "adres"),
        ({"teslim_zamani": None}, "teslim_zamani"),
        ({"teslim_zamani": "2027-04-05T09:59:00+03:00"}, "teslim_zamani"),
        ({"kart_metni": "x" * 2001}, "kart_metni"),
        ({"kart_metni": None}, "kart_metni"),
        ({"tahmini_tutar": "0"}, "tahmini_tutar"),
        ({"tahmini_tutar": "12,345"}, "tahmini_tutar"),
        ({"tur": "pasta"}, "tur"),
        ({"alici": None}, "alici"),
    ],
)
def test_invalid_requests_are_refused_naming_the_field(db, overrides: dict, field: str) -> None:
    instance_id = started(db)
    talep = only_task(db, "protokol1", "Task_talep")
    with clock.frozen_at(MONDAY), pytest.raises(InvalidInput) as err:
        complete(db, "protokol1", talep["id"], request(**overrides))
    assert field in err.value.field_errors
    assert only_task(db, "protokol1", "Task_talep")["state"] == "open"
    assert show(db, instance_id)["open_tasks"][0]["bpmn_id"] == "Task_talep"


def test_a_social_media_message_needs_neither_address_nor_delivery_time(db) -> None:
    instance_id = started(db)
    with clock.frozen_at(MONDAY):
        complete(
            db,
            "protokol1",
            only_task(db, "protokol1", "Task_talep")["id"],
            request(tur="sosyal_medya_mesaji", teslim_zamani=None, tahmini_tutar=None, adres="yok sayılır"),
        )
    data = show(db, instance_id)["data"]
    assert data["adres"] is None  # the address does not apply to a social media message and is dropped
    assert only_task(db, "ok.mudur", "Task_onay")


def test_a_caller_fixes_the_type(db) -> None:
    instance_id = started(db, data={"onerilen_tur": "celenk", "kaynak": "F8", "ilgili_kayit": "DVT-2027-000001"})
    talep = only_task(db, "protokol1", "Task_talep")
    with clock.frozen_at(MONDAY), pytest.raises(InvalidInput) as err:
        complete(db, "protokol1", talep["id"], request(tur="cicek"))
    assert set(err.value.field_errors) == {"tur"}
    with clock.frozen_at(MONDAY):
        complete(db, "protokol1", talep["id"], request(tur="celenk"))
    data = show(db, instance_id)["data"]
    assert (data["kaynak"], data["ilgili_kayit"], data["tur"]) == ("F8", "DVT-2027-000001", "celenk")


def test_other_units_neither_see_nor_do_these_tasks(db) -> None:
    started(db)
    talep = only_task(db, "protokol1", "Task_talep")
    for outsider in ("fenisleri.memur", "fenisleri.mudur", "sekreter1", "baskan"):
        assert open_tasks(db, outsider) == []
    with pytest.raises(NotFound):
        act(db, "fenisleri.memur", lambda s, a: tasks.show(s, a, talep["id"]))
    with pytest.raises((NotFound, NotAllowed)):
        complete(db, "fenisleri.memur", talep["id"], request())
    with clock.frozen_at(MONDAY):
        complete(db, "protokol1", talep["id"], request())
    onay = only_task(db, "ok.mudur", "Task_onay")
    with pytest.raises((NotFound, NotAllowed)):
        complete(db, "protokol1", onay["id"], {"onay_karari": "onayla"})
