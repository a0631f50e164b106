"""F5 Başkan onayı için evrak: gönderim, ön kontrol, makama sunuş, karar, dağıtım and tebliğ; the
iade loops, bekletme with re-presentation by timer, talimat handed to F10, and the visibility of
classified documents."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from factories import act, deploy_flow, only_task, open_tasks, start

from engine import clock, instances, tasks, timers
from engine.errors import InvalidInput, ProcessError

# Tuesday 1 December 2026, 09:00 in Istanbul.
T0 = datetime(2026, 12, 1, 6, 0, tzinfo=UTC)
EVRAK = {
    "evrak_ebys_no": "E-12345678-010.01-4711",
    "tur": "olur",
    "ozet": "Sahil yolu kaldırım onarımı için yaklaşık maliyet onayı.",
    "ivedilik": "normal",
    "gizlilik": "tasnif_disi",
    "paraf_zinciri_tamam": True,
    "koordinasyon_birimleri": ["mali_hizmetler"],
}


@pytest.fixture(autouse=True)
def frozen():
    with clock.frozen_at(T0):
        yield


@pytest.fixture
def deployed(db):
    deploy_flow(db, "talimat", "baskan_onayi")
    return db


def complete(db, username, task_id, data):
    return act(db, username, lambda s, a: tasks.complete(s, a, task_id, data))


def do(db, username, bpmn_id, data):
    task = only_task(db, username, bpmn_id)
    complete(db, username, task["id"], data)
    return task


def details(db, instance_id):
    return act(db, None, lambda s, a: instances.show(s, a, instance_id).as_dict())


def submit(db, business_key="F5-1", sender="fenisleri.memur", unit="fen_isleri", **evrak):
    instance_id = start(db, "f5_baskan_onayi", sender, business_key=business_key, data={"gonderen_birim": unit})
    do(db, sender, "Task_gonderim", {**EVRAK, **evrak})
    return instance_id


def to_decision(db, makam="baskan"):
    do(db, "idari1", "Task_on_kontrol", {"on_kontrol_karari": "kabul"})
    do(db, "ok.mudur", "Task_sunus", {"karar_makami": makam, "sunus_notu": "Acil değil."})


def distribute(db, bilgi=()):
    do(db, "idari1", "Task_dagitim", {"bilgi_birimleri": list(bilgi)})


def test_olur_happy_path_with_distribution_and_acknowledgements(deployed):
    db = deployed
    instance_id = start(
        db, "f5_baskan_onayi", "fenisleri.memur", business_key="F5-1", data={"gonderen_birim": "fen_isleri"}
    )
    send = only_task(db, "fenisleri.memur", "Task_gonderim")
    assert send["candidate_groups"] == ["fen_isleri"]
    assert open_tasks(db, "zabita.memur") == [] and open_tasks(db, "idari1") == []
    complete(db, "fenisleri.memur", send["id"], EVRAK)

    check = only_task(db, "idari1", "Task_on_kontrol")
    assert check["candidate_groups"] == ["idari_isler"]
    assert check["priority"] == 50
    assert check["due_at"] == "2026-12-02T14:30:00+00:00"  # normal: next business day
    assert details(db, instance_id)["data"]["kayit_no"] == "EVR-2026-000001"
    complete(db, "idari2", check["id"], {"on_kontrol_karari": "kabul"})

    sumen = only_task(db, "ok.mudur", "Task_sunus")
    assert sumen["candidate_groups"] == ["ozel_kalem_muduru"]
    assert sumen["due_at"] == "2026-12-08T14:30:00+00:00"  # five business days in the sümen
    assert only_task(db, "ok.mudur2", "Task_sunus")["id"] == sumen["id"]
    assert open_tasks(db, "idari1") == []
    complete(db, "ok.mudur", sumen["id"], {"karar_makami": "baskan"})

    decision = only_task(db, "baskan", "Task_karar")
    assert decision["candidate_groups"] == ["baskan"]
    assert open_tasks(db, "by.kaya") == [] and open_tasks(db, "ok.mudur") == []
    complete(db, "baskan", decision["id"], {"karar": "olur", "ebys_imza_ref": "OLUR-2026-77"})

    distribute(db, bilgi=["zabita", "fen_isleri"])
    fen = only_task(db, "fenisleri.memur", "Task_teblig")
    zabita = only_task(db, "zabita.memur", "Task_teblig")
    assert (fen["candidate_groups"], zabita["candidate_groups"]) == (["fen_isleri"], ["zabita"])
    with pytest.raises(InvalidInput) as err:
        complete(db, "zabita.memur", zabita["id"], {"teblig_alindi": False})
    assert "teblig_alindi" in err.value.field_errors
    complete(db, "zabita.memur", zabita["id"], {"teblig_alindi": True})
    assert details(db, instance_id)["status"] == "running"
    complete(db, "fenisleri.memur", fen["id"], {"teblig_alindi": True, "teblig_notu": "Gereği yapılacak."})

    detail = details(db, instance_id)
    assert detail["status"] == "completed"
    data = detail["data"]
    assert data["sonuc"] == "onaylandi"
    assert data["onay"]["karar"] == "olur" and data["onay"]["ebys_ref"] == "OLUR-2026-77"
    assert sorted((t["birim"], t["not"]) for t in data["tebligler"]) == [
        ("fen_isleri", "Gereği yapılacak."),
        ("zabita", None),
    ]
    assert [step["adim"] for step in data["islem_gecmisi"]] == ["gonderim", "on_kontrol", "sunus", "karar"]


def test_imza_needs_the_paraf_chain_and_ends_signed(deployed):
    db = deployed
    instance_id = start(db, "f5_baskan_onayi", "zabita.memur", data={"gonderen_birim": "zabita"})
    send = only_task(db, "zabita.memur", "Task_gonderim")
    with pytest.raises(InvalidInput) as err:
        complete(db, "zabita.memur", send["id"], {**EVRAK, "tur": "imza", "paraf_zinciri_tamam": False})
    assert "paraf_zinciri_tamam" in err.value.field_errors
    complete(db, "zabita.memur", send["id"], {**EVRAK, "tur": "imza"})
    to_decision(db)
    decision = only_task(db, "baskan.vekili", "Task_karar")
    complete(db, "baskan.vekili", decision["id"], {"karar": "imzalandi"})
    distribute(db)
    do(db, "zabita.mudur", "Task_teblig", {"teblig_alindi": True})
    data = details(db, instance_id)["data"]
    assert data["sonuc"] == "imzalandi"


def test_imzalandi_only_for_a_document_sent_for_signature(deployed):
    db = deployed
    submit(db)
    to_decision(db)
    decision = only_task(db, "baskan", "Task_karar")
    with pytest.raises(InvalidInput) as err:
        complete(db, "baskan", decision["id"], {"karar": "imzalandi"})
    assert "karar" in err.value.field_errors


def test_evrak_needs_an_ebys_number_or_a_file(deployed):
    db = deployed
    start(db, "f5_baskan_onayi", "fenisleri.memur", data={"gonderen_birim": "fen_isleri"})
    send = only_task(db, "fenisleri.memur", "Task_gonderim")
    no_evrak = {k: v for k, v in EVRAK.items() if k != "evrak_ebys_no"}
    with pytest.raises(InvalidInput) as err:
        complete(db, "fenisleri.memur", send["id"], no_evrak)
    assert "evrak_ebys_no" in err.value.field_errors
    with pytest.raises(InvalidInput) as err:
        complete(db, "fenisleri.memur", send["id"], {**EVRAK, "koordinasyon_birimleri": ["fen_isleri"]})
    assert "koordinasyon_birimleri" in err.value.field_errors
    dosya = {"filename": "yazi.pdf", "sha256": "cd" * 32}
    complete(db, "fenisleri.memur", send["id"], {**no_evrak, "evrak_dosyasi": dosya})
    assert only_task(db, "idari1", "Task_on_kontrol")


def test_gunludur_needs_a_date_that_is_not_in_the_past(deployed):
    db = deployed
    instance_id = start(db, "f5_baskan_onayi", "fenisleri.memur", data={"gonderen_birim": "fen_isleri"})
    send = only_task(db, "fenisleri.memur", "Task_gonderim")
    with pytest.raises(InvalidInput) as err:
        complete(db, "fenisleri.memur", send["id"], {**EVRAK, "ivedilik": "gunludur"})
    assert "gunludur_tarihi" in err.value.field_errors
    with pytest.raises(InvalidInput) as err:
        complete(db, "fenisleri.memur", send["id"], {**EVRAK, "ivedilik": "gunludur", "gunludur_tarihi": "2026-11-30"})
    assert "gunludur_tarihi" in err.value.field_errors
    complete(db, "fenisleri.memur", send["id"], {**EVRAK, "ivedilik": "gunludur", "gunludur_tarihi": "2026-12-03"})
    check = only_task(db, "idari1", "Task_on_kontrol")
    assert check["priority"] == 90
    assert check["due_at"] == "2026-12-01T14:30:00+00:00"  # same day
    do(db, "idari1", "Task_on_kontrol", {"on_kontrol_karari": "kabul"})
    sumen = only_task(db, "ok.mudur", "Task_sunus")
    assert sumen["due_at"] == "2026-12-03T14:30:00+00:00"  # the günlüdür date
    assert details(db, instance_id)["data"]["gunludur_tarihi"] == "2026-12-03"


def test_acele_outranks_normal_in_the_sumen(deployed):
    db = deployed
    submit(db, "F5-NORMAL")
    submit(db, "F5-ACELE", ivedilik="acele")
    checks = {t["business_key"]: t for t in open_tasks(db, "idari1")}
    assert checks["F5-ACELE"]["priority"] > checks["F5-NORMAL"]["priority"]
    assert checks["F5-ACELE"]["due_at"] == "2026-12-01T14:30:00+00:00"
    for task in checks.values():
        complete(db, "idari1", task["id"], {"on_kontrol_karari": "kabul"})
    sumen = [t for t in open_tasks(db, "ok.mudur") if t["bpmn_id"] == "Task_sunus"]
    assert [t["business_key"] for t in sumen] == ["F5-ACELE", "F5-NORMAL"]
    assert sumen[0]["priority"] == 80 and sumen[1]["priority"] == 50


def test_on_kontrol_returns_to_the_sender_who_fixes_and_resubmits(deployed):
    db = deployed
    instance_id = submit(db, paraf_zinciri_tamam=False)
    check = only_task(db, "idari1", "Task_on_kontrol")
    with pytest.raises(InvalidInput) as err:
        complete(db, "idari1", check["id"], {"on_kontrol_karari": "iade"})
    assert {"eksikler", "iade_gerekcesi"} <= set(err.value.field_errors)
    complete(
        db,
        "idari1",
        check["id"],
        {"on_kontrol_karari": "iade", "eksikler": ["paraf"], "iade_gerekcesi": "Mali Hizmetler parafı eksik."},
    )
    fix = only_task(db, "fenisleri.memur", "Task_duzelt")
    assert fix["candidate_groups"] == ["fen_isleri"] and fix["form_key"] == "f5_onaya_sunulacak_evrak"
    assert open_tasks(db, "idari1") == []
    assert details(db, instance_id)["data"]["durum"] == "gonderene_iade"
    complete(db, "fenisleri.memur", fix["id"], {**EVRAK, "ivedilik": "acele"})
    again = only_task(db, "idari1", "Task_on_kontrol")
    assert again["priority"] == 80  # the rules ran again on the corrected document
    complete(db, "idari1", again["id"], {"on_kontrol_karari": "kabul"})
    data = details(db, instance_id)["data"]
    assert data["kayit_no"] == "EVR-2026-000001"  # one registration number for the whole cycle
    assert data["gonderim_sayisi"] == 2
    assert only_task(db, "ok.mudur", "Task_sunus")


def test_baskan_returns_the_document_and_the_sender_resubmits_as_a_linked_case(deployed):
    db = deployed
    first = submit(db, "F5-IADE-1")
    to_decision(db)
    decision = only_task(db, "baskan", "Task_karar")
    with pytest.raises(InvalidInput) as err:
        complete(db, "baskan", decision["id"], {"karar": "iade"})
    assert "karar_notu" in err.value.field_errors
    complete(db, "baskan", decision["id"], {"karar": "iade", "karar_notu": "Maliyet tablosu eklensin."})
    distribute(db)
    do(db, "fenisleri.memur", "Task_teblig", {"teblig_alindi": True})
    old = details(db, first)["data"]
    assert old["sonuc"] == "iade_edildi" and old["onay"]["not"] == "Maliyet tablosu eklensin."

    second = start(
        db,
        "f5_baskan_onayi",
        "fenisleri.memur",
        business_key="F5-IADE-2",
        data={"gonderen_birim": "fen_isleri", "onceki_kayit_no": old["kayit_no"]},
    )
    do(db, "fenisleri.memur", "Task_gonderim", {**EVRAK, "ozet": "Maliyet tablosu eklenmiş onay talebi."})
    to_decision(db)
    do(db, "baskan", "Task_karar", {"karar": "olur"})
    distribute(db)
    do(db, "fenisleri.memur", "Task_teblig", {"teblig_alindi": True})
    new = details(db, second)["data"]
    assert new["sonuc"] == "onaylandi"
    assert new["onceki_kayit_no"] == "EVR-2026-000001" and new["kayit_no"] == "EVR-2026-000002"


def test_uygun_gorulmedi_needs_a_note_and_ends_rejected(deployed):
    db = deployed
    instance_id = submit(db)
    to_decision(db)
    decision = only_task(db, "baskan", "Task_karar")
    with pytest.raises(InvalidInput):
        complete(db, "baskan", decision["id"], {"karar": "uygun_gorulmedi", "karar_notu": ""})
    complete(db, "baskan", decision["id"], {"karar": "uygun_gorulmedi", "karar_notu": "Bütçe uygun değil."})
    distribute(db, bilgi=["mali_hizmetler"])
    do(db, "fenisleri.memur", "Task_teblig", {"teblig_alindi": True})
    assert details(db, instance_id)["status"] == "running"
    do(db, "malihizmetler.memur", "Task_teblig", {"teblig_alindi": True})
    detail = details(db, instance_id)
    assert detail["status"] == "completed" and detail["data"]["sonuc"] == "reddedildi"


def test_beklet_holds_the_document_until_the_timer_presents_it_again(deployed):
    db = deployed
    instance_id = submit(db)
    to_decision(db)
    decision = only_task(db, "baskan", "Task_karar")
    with pytest.raises(InvalidInput) as err:
        complete(
            db,
            "baskan",
            decision["id"],
            {"karar": "beklet", "karar_notu": "Sonra.", "yeniden_sunus_tarihi": "2026-12-01"},
        )
    assert "yeniden_sunus_tarihi" in err.value.field_errors
    complete(
        db,
        "baskan",
        decision["id"],
        {"karar": "beklet", "karar_notu": "Meclis sonrası sunulsun.", "yeniden_sunus_tarihi": "2026-12-08"},
    )
    detail = details(db, instance_id)
    assert detail["open_tasks"] == [] and detail["data"]["durum"] == "bekletildi"
    timer = next(w for w in detail["waiting"] if w["type"] == "timer")
    assert timer["fire_at"] == "2026-12-08T05:30:00+00:00"  # 08:30 in Istanbul

    assert timers.fire_due(db, datetime(2026, 12, 8, 5, 0, tzinfo=UTC)).fired_instances == []
    assert open_tasks(db, "ok.mudur") == []
    with clock.frozen_at(datetime(2026, 12, 8, 6, 0, tzinfo=UTC)):
        assert timers.fire_due(db).fired_instances == [instance_id]
        sumen = only_task(db, "ok.mudur", "Task_sunus")
        assert sumen["due_at"] == "2026-12-15T14:30:00+00:00"
        complete(db, "ok.mudur", sumen["id"], {"karar_makami": "baskan"})
        do(db, "baskan", "Task_karar", {"karar": "olur"})
        distribute(db)
        do(db, "fenisleri.memur", "Task_teblig", {"teblig_alindi": True})
    data = details(db, instance_id)["data"]
    assert data["sonuc"] == "onaylandi" and data["sunus_sayisi"] == 2
    assert [s["karar"] for s in data["islem_gecmisi"] if s["adim"] == "karar"] == ["beklet", "olur"]
    assert data["onay"]["not"] is None  # the note of the held decision did not stick to the final one


def test_talimat_starts_f10_for_each_unit_and_finishes_both(deployed):
    db = deployed
    instance_id = submit(db, "F5-TALIMAT-1", tur="talimat_talebi")
    to_decision(db)
    decision = only_task(db, "baskan", "Task_karar")
    talimat = {
        "karar": "talimat",
        "karar_notu": "Zabıta ve Park Bahçeler ortak denetim yapsın.",
        "talimat_birimleri": ["zabita", "park_bahceler"],
        "talimat_son_tarihi": "2026-12-15",
        "talimat_onceligi": "acele",
    }
    with pytest.raises(InvalidInput) as err:
        complete(db, "baskan", decision["id"], {k: v for k, v in talimat.items() if k != "talimat_birimleri"})
    assert "talimat_birimleri" in err.value.field_errors
    complete(db, "baskan", decision["id"], talimat)
    distribute(db)
    do(db, "fenisleri.memur", "Task_teblig", {"teblig_alindi": True})

    zabita = only_task(db, "zabita.memur", "Task_birim_bildirimi")
    park = only_task(db, "parkbahceler.memur", "Task_birim_bildirimi")
    assert (zabita["candidate_groups"], park["candidate_groups"]) == (["zabita"], ["park_bahceler"])
    assert zabita["priority"] == 80 and zabita["due_at"] == "2026-12-15T14:30:00+00:00"
    assert zabita["business_key"] == "F5-TALIMAT-1"
    # Not a target: Fen İşleri (the sender) and İmar see no F10 task.
    assert open_tasks(db, "fenisleri.memur") == [] and open_tasks(db, "imar.memur") == []
    assert details(db, instance_id)["status"] == "running"

    kanit = {"filename": "denetim.pdf", "sha256": "ef" * 32}
    complete(db, "zabita.memur", zabita["id"], {"durum": "tamamlandi", "aciklama": "Denetlendi.", "kanit": kanit})
    complete(db, "parkbahceler.memur", park["id"], {"durum": "ilerleme", "yuzde": 50, "aciklama": "Yarısı."})
    do(db, "parkbahceler.memur", "Task_birim_bildirimi", {"durum": "tamamlandi", "aciklama": "Bitti.", "kanit": kanit})
    assert details(db, instance_id)["status"] == "running"
    do(db, "ok.sef", "Task_inceleme", {"karar": "tamamlandi"})

    detail = details(db, instance_id)
    assert detail["status"] == "completed"
    data = detail["data"]
    assert data["sonuc"] == "onaylandi" and data["talimat_sonucu"] == "tamamlandi"
    assert data["talimat_no"] == "TLM-2026-000001"
    assert sorted(r["birim"] for r in data["birim_raporlari"]) == ["park_bahceler", "zabita"]


def test_classified_documents_reach_only_the_people_who_must_act(deployed):
    db = deployed
    instance_id = submit(db, gizlilik="gizli")
    assert open_tasks(db, "idari1") == []
    check = only_task(db, "ok.sef", "Task_on_kontrol")
    assert check["candidate_groups"] == ["ozel_kalem_sef"]
    complete(db, "ok.sef", check["id"], {"on_kontrol_karari": "kabul"})
    do(db, "ok.mudur", "Task_sunus", {"karar_makami": "baskan"})
    do(db, "baskan", "Task_karar", {"karar": "olur"})
    assert open_tasks(db, "idari1") == []
    do(db, "ok.sef", "Task_dagitim", {"bilgi_birimleri": []})
    assert open_tasks(db, "fenisleri.memur") == []
    ack = only_task(db, "fenisleri.mudur", "Task_teblig")
    assert ack["candidate_groups"] == ["fen_isleri/yonetici"]
    complete(db, "fenisleri.mudur", ack["id"], {"teblig_alindi": True})
    assert details(db, instance_id)["data"]["sonuc"] == "onaylandi"


def test_a_deputy_mayor_decides_when_the_sumen_says_so(deployed):
    db = deployed
    instance_id = submit(db)
    to_decision(db, makam="baskan_yardimcisi")
    assert open_tasks(db, "baskan") == []
    decision = only_task(db, "by.kaya", "Task_karar")
    assert decision["candidate_groups"] == ["baskan_yardimcisi"]
    complete(db, "by.demir", decision["id"], {"karar": "olur"})
    distribute(db)
    do(db, "fenisleri.memur", "Task_teblig", {"teblig_alindi": True})
    data = details(db, instance_id)["data"]
    assert data["sonuc"] == "onaylandi" and data["onay"]["makam"] == "baskan_yardimcisi"


def test_start_without_the_sending_directorate_is_refused(deployed):
    with pytest.raises(ProcessError) as err:
        start(deployed, "f5_baskan_onayi", "fenisleri.memur", data={})
    assert "gonderen_birim" in str(err.value)
