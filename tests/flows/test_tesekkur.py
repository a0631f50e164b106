"""F9 teşekkür döngüsü (processes/celenk_tebrik/f9_tesekkur.bpmn): what the Başkan receives (flowers,
wreaths, telegrams, messages, gifts) is registered by Protokol, a thank-you letter is drafted within 5
iş günü of receipt, approved by the Özel Kalem Müdürü and, for protocol-level senders (DMN
f9_tesekkur_imza), signed by the Başkan; then sent (e-mail through the outbox, post or by hand with
its date) and the file is archived."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from factories import PROCESSES, act, deploy_flow, only_task, open_tasks, read
from lxml import etree
from sqlalchemy import select

import forms
from engine import clock, instances, starting, tasks
from engine.errors import InvalidInput, NotAllowed, NotFound
from engine.models import Notification

KEY = "f9_tesekkur"
IST = ZoneInfo("Europe/Istanbul")
# Monday 5 April 2027, 10:00 in Istanbul: a plain business week (no holiday before the 23rd).
MONDAY = datetime(2027, 4, 5, 10, 0, tzinfo=IST)
LETTER = "Sayın Valim, acı günümüzde gönderdiğiniz çelenk ve taziyeleriniz için teşekkür ederim."
BASKAN_LEVELS = ["ust_duzey_devlet", "yabanci_temsilci", "il_protokolu", "belediye_baskani"]
MUDUR_LEVELS = ["kurum_temsilcisi", "meclis_siyasi_stk", "muhtar", "vatandas_firma"]


def complete(db, username: str, task_id: int, data: dict) -> None:
    with clock.frozen_at(MONDAY):
        act(db, username, lambda s, a: tasks.complete(s, a, task_id, data))


def show(db, instance_id: int) -> dict:
    return act(db, None, lambda s, a: instances.show(s, a, instance_id).as_dict())


def outbox(db) -> list[tuple[str, str, str]]:
    return read(
        db,
        lambda s: [(n.recipient, n.subject, n.body) for n in s.scalars(select(Notification).order_by(Notification.id))],
    )


def mine(db, username: str, instance_id: int) -> list[str]:
    return [t["bpmn_id"] for t in open_tasks(db, username) if t["instance_id"] == instance_id]


def received(**overrides) -> dict:
    values = {
        "gonderen_turu": "kisi",
        "gonderen_adi": "Ayşe Yılmaz",
        "protokol_duzeyi": "vatandas_firma",
        "alinan_tur": "cicek",
        "vesile": "taziye",
        "vesile_aciklamasi": "Başkanın annesinin vefatı",
        "alinma_tarihi": "2027-04-02",  # Friday
        "icerik_ozeti": "Başınız sağ olsun.",
        "sdp_kodu": "642.02",
    }
    values.update(overrides)
    return {k: v for k, v in values.items() if v is not None}


def draft(**overrides) -> dict:
    values = {
        "yazi_konusu": "Teşekkür",
        "yazi_metni": LETTER,
        "gonderim_kanali": "e_posta",
        "alici_eposta": "Ayse.Yilmaz@Example.com",
    }
    values.update(overrides)
    return {k: v for k, v in values.items() if v is not None}


def started(db, username: str = "protokol1", business_key: str = "TSK-1") -> tuple[int, int | None]:
    deploy_flow(db, "celenk_tebrik")
    with clock.frozen_at(MONDAY):
        begun = act(db, username, lambda s, a: starting.start(s, a, KEY, business_key=business_key))
    return begun.instance.id, begun.next_task_id


def registered(db, **overrides) -> int:
    instance_id, kayit_id = started(db)
    assert kayit_id == only_task(db, "protokol1", "Task_kayit")["id"]  # the starter goes on with the record
    complete(db, "protokol1", kayit_id, received(**overrides))
    return instance_id


def drafted(db, record: dict | None = None, letter: dict | None = None) -> int:
    instance_id = registered(db, **(record or {}))
    complete(db, "protokol2", only_task(db, "protokol2", "Task_taslak")["id"], draft(**(letter or {})))
    return instance_id


def test_flowers_from_a_citizen_are_thanked_by_email_once_the_mudur_approves(db) -> None:
    instance_id = registered(db)
    data = show(db, instance_id)["data"]
    assert data["kayit_no"] == "TSK-2027-000001"
    assert data["baskan_imzasi_gerekli"] is False
    assert data["imza_makami"] == "Başkan a. Özel Kalem Müdürü"

    taslak = only_task(db, "protokol2", "Task_taslak")
    assert taslak["candidate_groups"] == ["protokol"]
    # 5 iş günü from the day of receipt (Friday 2 April), not from the day it was recorded: Friday 9th, 17:30.
    assert taslak["due_at"] == "2027-04-09T14:30:00+00:00"
    for outsider in ("sekreter1", "idari1", "ok.mudur2", "baskan"):
        assert mine(db, outsider, instance_id) == []
    complete(db, "protokol2", taslak["id"], draft())

    onay = only_task(db, "ok.mudur2", "Task_mudur_onay")
    assert onay["candidate_groups"] == ["ozel_kalem_muduru"]
    assert mine(db, "protokol1", instance_id) == []
    assert outbox(db) == []  # nothing leaves before the approval
    complete(db, "ok.mudur2", onay["id"], {"mudur_karari": "onayla"})

    assert mine(db, "baskan", instance_id) == []
    assert outbox(db) == [
        ("Ayse.Yilmaz@example.com", "Teşekkür (TSK-2027-000001)", LETTER + "\n\nBaşkan a. Özel Kalem Müdürü")
    ]
    detail = show(db, instance_id)
    assert detail["status"] == "completed" and detail["open_tasks"] == [] and detail["waiting"] == []
    data = detail["data"]
    assert data["sonuc"] == "gonderildi"
    assert (data["gonderim_kanali"], data["gonderim_tarihi"]) == ("e_posta", "2027-04-05")
    assert data["arsiv"]["sonuc"] == "gonderildi" and data["arsiv"]["sdp_kodu"] == "642.02"
    assert data["arsiv"]["kayit_no"] == "TSK-2027-000001"


@pytest.mark.parametrize(
    ("level", "baskan_signs"), [(lvl, True) for lvl in BASKAN_LEVELS] + [(lvl, False) for lvl in MUDUR_LEVELS]
)
def test_the_protocol_level_decides_whether_the_baskan_signs(db, level: str, baskan_signs: bool) -> None:
    instance_id = drafted(db, record={"protokol_duzeyi": level, "gonderen_turu": "kurum"})
    assert show(db, instance_id)["data"]["baskan_imzasi_gerekli"] is baskan_signs
    complete(db, "ok.mudur", only_task(db, "ok.mudur", "Task_mudur_onay")["id"], {"mudur_karari": "onayla"})
    if baskan_signs:
        imza = only_task(db, "baskan", "Task_baskan_imza")
        assert imza["candidate_groups"] == ["baskan"]
        assert outbox(db) == [] and show(db, instance_id)["status"] == "running"
    else:
        assert mine(db, "baskan", instance_id) == []
        assert show(db, instance_id)["status"] == "completed" and len(outbox(db)) == 1


def test_a_governor_is_thanked_by_post_under_the_baskans_signature(db) -> None:
    instance_id = drafted(
        db,
        record={
            "gonderen_turu": "kisi",
            "gonderen_adi": "Ali Demir",
            "gonderen_unvani": "İzmir Valisi",
            "protokol_duzeyi": "il_protokolu",
            "alinan_tur": "telgraf",
            "vesile": "bayram_ozel_gun",
            "vesile_aciklamasi": "Ramazan Bayramı",
        },
        letter={
            "gonderim_kanali": "posta",
            "alici_eposta": None,
            "alici_adres": "Valilik Binası, Konak / İzmir",
            "alici_posta_kodu": "35250",
        },
    )
    assert show(db, instance_id)["data"]["imza_makami"] == "Belediye Başkanı"
    complete(db, "ok.mudur2", only_task(db, "ok.mudur2", "Task_mudur_onay")["id"], {"mudur_karari": "onayla"})
    assert mine(db, "protokol1", instance_id) == []  # not sent before the Başkan signs
    imza = only_task(db, "baskan.vekili", "Task_baskan_imza")
    for not_baskan in ("ok.mudur", "protokol1"):
        with pytest.raises((NotFound, NotAllowed)):
            complete(db, not_baskan, imza["id"], {"baskan_karari": "imzala"})
    complete(db, "baskan", imza["id"], {"baskan_karari": "imzala"})

    gonderim = only_task(db, "protokol1", "Task_gonderim")
    assert gonderim["candidate_groups"] == ["protokol"]
    with pytest.raises(InvalidInput) as err:
        complete(db, "protokol1", gonderim["id"], {"gonderim_tarihi": "2027-04-01"})  # before it was received
    assert set(err.value.field_errors) == {"gonderim_tarihi"}
    with pytest.raises(InvalidInput) as err:
        complete(db, "protokol1", gonderim["id"], {"gonderim_tarihi": "2027-04-06"})  # tomorrow
    assert set(err.value.field_errors) == {"gonderim_tarihi"}
    complete(
        db,
        "protokol1",
        gonderim["id"],
        {"gonderim_tarihi": "2027-04-05", "posta_barkod_no": "RR123456789TR", "ebys_sayi": "E-12345678-642.02-77"},
    )
    detail = show(db, instance_id)
    assert detail["status"] == "completed"
    data = detail["data"]
    assert data["sonuc"] == "gonderildi" and data["gonderim_tarihi"] == "2027-04-05"
    assert (data["gonderim_kanali"], data["alici_posta_kodu"], data["alici_eposta"]) == ("posta", "35250", None)
    assert data["arsiv"]["sonuc"] == "gonderildi"
    assert outbox(db) == []  # a letter by post is not e-mailed


def test_returned_for_correction_by_the_mudur_then_approved(db) -> None:
    instance_id = drafted(db, letter={"gonderim_kanali": "posta", "alici_eposta": None, "alici_adres": "Bornova"})
    onay = only_task(db, "ok.mudur2", "Task_mudur_onay")
    with pytest.raises(InvalidInput) as err:
        complete(db, "ok.mudur2", onay["id"], {"mudur_karari": "duzeltme"})
    assert set(err.value.field_errors) == {"mudur_notu"}
    complete(db, "ok.mudur2", onay["id"], {"mudur_karari": "duzeltme", "mudur_notu": "E-postayla gönderilsin."})

    again = only_task(db, "protokol1", "Task_taslak")
    assert again["due_at"] == "2027-04-09T14:30:00+00:00"  # same internal deadline
    assert mine(db, "ok.mudur2", instance_id) == [] and outbox(db) == []
    data = show(db, instance_id)["data"]
    assert (data["mudur_notu"], data["alici_adres"]) == ("E-postayla gönderilsin.", "Bornova")
    complete(db, "protokol1", again["id"], draft())
    assert show(db, instance_id)["data"]["alici_adres"] is None  # the post address went with the channel

    complete(db, "ok.mudur2", only_task(db, "ok.mudur2", "Task_mudur_onay")["id"], {"mudur_karari": "onayla"})
    assert [(r, s) for r, s, _b in outbox(db)] == [("Ayse.Yilmaz@example.com", "Teşekkür (TSK-2027-000001)")]
    assert show(db, instance_id)["data"]["sonuc"] == "gonderildi"


def test_returned_by_the_baskan_goes_back_through_the_mudur_and_is_delivered_by_hand(db) -> None:
    instance_id = drafted(
        db,
        record={"protokol_duzeyi": "belediye_baskani", "gonderen_turu": "kurum", "gonderen_adi": "Bornova Belediyesi"},
        letter={"gonderim_kanali": "elden", "alici_eposta": None, "alici_adres": "Bornova Belediyesi"},
    )
    complete(db, "ok.mudur2", only_task(db, "ok.mudur2", "Task_mudur_onay")["id"], {"mudur_karari": "onayla"})
    imza = only_task(db, "baskan", "Task_baskan_imza")
    complete(db, "baskan", imza["id"], {"baskan_karari": "duzeltme", "baskan_notu": "Daha sıcak bir dil."})
    assert mine(db, "baskan", instance_id) == [] and mine(db, "ok.mudur2", instance_id) == []
    assert show(db, instance_id)["data"]["baskan_notu"] == "Daha sıcak bir dil."
    taslak = only_task(db, "protokol2", "Task_taslak")
    complete(db, "protokol2", taslak["id"], draft(gonderim_kanali="elden", alici_eposta=None, alici_adres="Bornova"))
    complete(db, "ok.mudur2", only_task(db, "ok.mudur2", "Task_mudur_onay")["id"], {"mudur_karari": "onayla"})
    complete(db, "baskan", only_task(db, "baskan", "Task_baskan_imza")["id"], {"baskan_karari": "imzala"})

    gonderim = only_task(db, "protokol2", "Task_gonderim")
    with pytest.raises(InvalidInput) as err:
        complete(db, "protokol2", gonderim["id"], {"gonderim_tarihi": "2027-04-05", "posta_barkod_no": "RR123456789TR"})
    assert set(err.value.field_errors) == {"teslim_alan", "posta_barkod_no"}
    complete(db, "protokol2", gonderim["id"], {"gonderim_tarihi": "2027-04-05", "teslim_alan": "Özel Kalem Müdürü"})
    data = show(db, instance_id)["data"]
    assert (data["sonuc"], data["gonderim_kanali"], data["teslim_alan"]) == ("gonderildi", "elden", "Özel Kalem Müdürü")
    assert data["baskan_karari"] == "imzala" and outbox(db) == []


def test_the_mudur_may_decide_that_no_letter_is_sent(db) -> None:
    instance_id = drafted(db)
    onay = only_task(db, "ok.mudur", "Task_mudur_onay")
    with pytest.raises(InvalidInput) as err:
        complete(db, "ok.mudur", onay["id"], {"mudur_karari": "iptal"})
    assert set(err.value.field_errors) == {"mudur_notu"}
    complete(db, "ok.mudur", onay["id"], {"mudur_karari": "iptal", "mudur_notu": "Mükerrer kayıt."})
    detail = show(db, instance_id)
    assert detail["status"] == "completed" and detail["open_tasks"] == []
    assert detail["data"]["sonuc"] == "iptal" and detail["data"]["arsiv"]["sonuc"] == "iptal"
    assert outbox(db) == []


def test_a_gift_is_recorded_with_its_value(db) -> None:
    instance_id, kayit_id = started(db)
    gift = received(alinan_tur="hediye", vesile="acilis", vesile_aciklamasi="Kültür Merkezi açılışı")
    with pytest.raises(InvalidInput) as err:
        complete(db, "protokol1", kayit_id, gift)
    assert set(err.value.field_errors) == {"hediye_aciklamasi", "hediye_degeri"}
    for bad in ("0", "-5", "12.345", "iki bin"):
        with pytest.raises(InvalidInput) as err:
            complete(db, "protokol1", kayit_id, {**gift, "hediye_aciklamasi": "Tablo", "hediye_degeri": bad})
        assert set(err.value.field_errors) == {"hediye_degeri"}, bad
    complete(db, "protokol1", kayit_id, {**gift, "hediye_aciklamasi": "Yağlı boya tablo", "hediye_degeri": "2.500,00"})
    data = show(db, instance_id)["data"]
    assert (data["alinan_tur"], data["hediye_aciklamasi"], data["hediye_degeri"]) == (
        "hediye",
        "Yağlı boya tablo",
        "2500.00",
    )
    assert only_task(db, "protokol1", "Task_taslak")


def test_the_gift_fields_warn_about_the_ethics_rules_and_only_apply_to_gifts(db) -> None:
    form = forms.load_definition_file(PROCESSES / "celenk_tebrik" / "f9_tesekkur_kayit.form.json")
    value = next(f for f in form.fields if f.name == "hediye_degeri")
    assert "Etik Davranış İlkeleri" in str(value.help) and value.type == "decimal"
    instance_id, kayit_id = started(db)
    complete(db, "protokol1", kayit_id, received(hediye_aciklamasi="Tablo", hediye_degeri="100.00"))
    data = show(db, instance_id)["data"]
    assert data["hediye_degeri"] is None and data["hediye_aciklamasi"] is None  # flowers are not a gift


def test_a_receipt_date_in_the_future_is_refused_naming_the_field(db) -> None:
    instance_id, kayit_id = started(db)
    with pytest.raises(InvalidInput) as err:
        complete(db, "protokol1", kayit_id, received(alinma_tarihi="2027-04-06"))
    assert set(err.value.field_errors) == {"alinma_tarihi"}
    assert only_task(db, "protokol1", "Task_kayit")["state"] == "open"
    assert "kayit_no" not in show(db, instance_id)["data"]
    complete(db, "protokol1", kayit_id, received(alinma_tarihi="2027-04-05"))  # today is fine
    assert only_task(db, "protokol1", "Task_taslak")["due_at"] == "2027-04-12T14:30:00+00:00"


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"alici_eposta": None}, "alici_eposta"),
        ({"alici_eposta": "ayse.yilmaz@"}, "alici_eposta"),
        ({"gonderim_kanali": "posta", "alici_eposta": None}, "alici_adres"),
        ({"gonderim_kanali": "posta", "alici_adres": "Bornova", "alici_posta_kodu": "3500"}, "alici_posta_kodu"),
        ({"alici_telefon": "12345"}, "alici_telefon"),
        ({"yazi_metni": "Teşekkürler."}, "yazi_metni"),
        ({"yazi_metni": None}, "yazi_metni"),
        ({"gonderim_kanali": "faks"}, "gonderim_kanali"),
    ],
)
def test_invalid_drafts_are_refused_naming_the_field(db, overrides: dict, field: str) -> None:
    registered(db)
    taslak = only_task(db, "protokol1", "Task_taslak")
    with pytest.raises(InvalidInput) as err:
        complete(db, "protokol1", taslak["id"], draft(**overrides))
    assert field in err.value.field_errors
    assert only_task(db, "protokol1", "Task_taslak")["id"] == taslak["id"]


def test_a_phone_number_is_normalised(db) -> None:
    instance_id = drafted(db, letter={"alici_telefon": "0 532 123 45 67"})
    assert show(db, instance_id)["data"]["alici_telefon"] == "+905321234567"


def test_only_protokol_starts_it(db) -> None:
    deploy_flow(db, "celenk_tebrik")
    for outsider in ("sekreter1", "idari1", "fenisleri.memur", "ok.sef2"):
        keys = act(db, outsider, lambda s, a: [o.key for o in starting.list_startable(s, a)])
        assert KEY not in keys, outsider
        with pytest.raises(NotAllowed):
            act(db, outsider, lambda s, a: starting.start(s, a, KEY))
    assert KEY in act(db, "protokol2", lambda s, a: [o.key for o in starting.list_startable(s, a)])
    instance_id, kayit_id = started(db, username="protokol2")
    assert show(db, instance_id)["open_tasks"][0]["bpmn_id"] == "Task_kayit"
    with pytest.raises((NotFound, NotAllowed)):
        complete(db, "sekreter1", kayit_id, received())


def test_every_element_is_drawn_for_bpmn_js() -> None:
    ns = {
        "bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL",
        "bpmndi": "http://www.omg.org/spec/BPMN/20100524/DI",
        "dc": "http://www.omg.org/spec/DD/20100524/DC",
    }
    root = etree.parse(str(PROCESSES / "celenk_tebrik" / "f9_tesekkur.bpmn")).getroot()
    process = root.find("bpmn:process", ns)
    assert process.get("id") == KEY
    flows = {f.get("id") for f in process.findall("bpmn:sequenceFlow", ns)}
    nodes = {
        e.get("id")
        for e in process
        if e.get("id") and etree.QName(e).localname not in ("sequenceFlow", "laneSet", "documentation")
    }
    lanes = {lane.get("id") for lane in process.iterfind("bpmn:laneSet/bpmn:lane", ns)}
    shapes = {s.get("bpmnElement"): s for s in root.iterfind(".//bpmndi:BPMNShape", ns)}
    edges = {e.get("bpmnElement"): e for e in root.iterfind(".//bpmndi:BPMNEdge", ns)}
    participant = root.find("bpmn:collaboration/bpmn:participant", ns).get("id")
    assert set(shapes) == nodes | lanes | {participant}
    assert set(edges) == flows
    assert all(len(e.findall("{http://www.omg.org/spec/DD/20100524/DI}waypoint")) >= 2 for e in edges.values())
    # Every node sits in exactly one lane, and its shape lies inside that lane's band.
    in_lanes: dict[str, str] = {}
    for lane in process.iterfind("bpmn:laneSet/bpmn:lane", ns):
        for ref in lane.findall("bpmn:flowNodeRef", ns):
            assert ref.text not in in_lanes
            in_lanes[ref.text] = lane.get("id")
    assert set(in_lanes) == nodes
    for node, lane in in_lanes.items():
        box, band = shapes[node].find("dc:Bounds", ns), shapes[lane].find("dc:Bounds", ns)
        top, height = float(box.get("y")), float(box.get("height"))
        assert float(band.get("y")) <= top and top + height <= float(band.get("y")) + float(band.get("height")), node
