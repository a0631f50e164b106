"""F10 Başkan talimatı takibi: direct start, units' progress and completion, escalation at the due
date, review (tamamlandı / ek çalışma / iptal) and cancellation by message."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from factories import act, deploy_flow, only_task, open_tasks, start

from engine import clock, instances, messages, tasks, timers
from engine.errors import InvalidInput, NotFound, ProcessError

# Tuesday 1 December 2026, 09:00 in Istanbul.
T0 = datetime(2026, 12, 1, 6, 0, tzinfo=UTC)
KANIT = {"filename": "tutanak.pdf", "sha256": "ab" * 32, "content_type": "application/pdf"}
TALIMAT = {
    "talimat_metni": "Sahil yolundaki kaldırımlar bayramdan önce onarılsın.",
    "hedef_birimler": ["fen_isleri", "zabita"],
    "son_tarih": "2026-12-04",
    "oncelik": "acele",
    "kaynak": "F7",
}


@pytest.fixture(autouse=True)
def frozen():
    with clock.frozen_at(T0):
        yield


def complete(db, username, task_id, data):
    return act(db, username, lambda s, a: tasks.complete(s, a, task_id, data))


def details(db, instance_id):
    return act(db, None, lambda s, a: instances.show(s, a, instance_id).as_dict())


def report_done(db, username, note="Onarım tamamlandı."):
    task = only_task(db, username, "Task_birim_bildirimi")
    complete(db, username, task["id"], {"durum": "tamamlandi", "aciklama": note, "kanit": KANIT})


def review(db, data):
    task = only_task(db, "ok.sef", "Task_inceleme")
    complete(db, "ok.sef", task["id"], data)


def test_direct_start_records_the_instruction_and_units_report_progress_until_done(db):
    deploy_flow(db, "talimat")
    instance_id = start(db, "f10_talimat_takibi", "ok.sef", business_key="TLM-DOGRUDAN-1")
    record = only_task(db, "ok.sef", "Task_talimat_kaydi")
    assert record["candidate_groups"] == ["ozel_kalem_sef"]
    assert open_tasks(db, "fenisleri.memur") == []
    with pytest.raises(InvalidInput) as err:
        complete(
            db,
            "ok.sef",
            record["id"],
            {**TALIMAT, "son_tarih": "2026-11-30", "kaynak": "dogrudan"},
        )
    assert "son_tarih" in err.value.field_errors
    complete(db, "ok.sef", record["id"], {**TALIMAT, "son_tarih": "2026-12-10", "kaynak": "dogrudan"})

    fen = only_task(db, "fenisleri.memur", "Task_birim_bildirimi")
    assert fen["candidate_groups"] == ["fen_isleri"]
    assert fen["priority"] == 80  # acele
    assert fen["due_at"] == "2026-12-10T14:30:00+00:00"  # 17:30 in Istanbul
    assert only_task(db, "zabita.memur", "Task_birim_bildirimi")["candidate_groups"] == ["zabita"]
    # A directorate that is not a target sees nothing; neither does the other target's task leak.
    assert open_tasks(db, "parkbahceler.memur") == []
    assert [t["candidate_groups"] for t in open_tasks(db, "fenisleri.memur")] == [["fen_isleri"]]
    with pytest.raises(NotFound):
        act(db, "parkbahceler.memur", lambda s, a: tasks.claim(s, a, fen["id"]))

    complete(db, "fenisleri.memur", fen["id"], {"durum": "ilerleme", "yuzde": 40, "aciklama": "Keşif yapıldı."})
    again = only_task(db, "fenisleri.memur", "Task_birim_bildirimi")
    assert again["id"] != fen["id"]
    with pytest.raises(InvalidInput) as err:
        complete(db, "fenisleri.memur", again["id"], {"durum": "ilerleme", "yuzde": 30, "aciklama": "Geri."})
    assert "yuzde" in err.value.field_errors
    with pytest.raises(InvalidInput) as err:
        complete(db, "fenisleri.memur", again["id"], {"durum": "tamamlandi", "aciklama": "Bitti."})
    assert "kanit" in err.value.field_errors
    report_done(db, "fenisleri.memur")
    assert open_tasks(db, "fenisleri.memur") == []
    assert open_tasks(db, "ok.sef") == []  # review waits for every unit
    report_done(db, "zabita.memur", "Denetim yapıldı.")

    review(db, {"karar": "tamamlandi", "baskana_rapor": "İki birim de tamamladı."})
    detail = details(db, instance_id)
    assert detail["status"] == "completed"
    data = detail["data"]
    assert data["sonuc"] == "tamamlandi" and data["talimat_sonucu"] == "tamamlandi"
    assert data["talimat_no"] == "TLM-2026-000001" and data["kaynak"] == "dogrudan"
    by_unit = {r["birim"]: r for r in data["birim_raporlari"]}
    assert set(by_unit) == {"fen_isleri", "zabita"}
    assert [b["yuzde"] for b in by_unit["fen_isleri"]["bildirimler"]] == [40, 100]
    assert by_unit["fen_isleri"]["kanit"]["filename"] == "tutanak.pdf"


def test_start_data_skips_recording_and_escalates_to_the_unit_manager_at_the_due_date(db):
    deploy_flow(db, "talimat")
    instance_id = start(db, "f10_talimat_takibi", "ok.sef", business_key="TLM-F7-1", data=TALIMAT)
    assert open_tasks(db, "ok.sef") == []
    # Zabıta finishes early: its timer goes away, so only Fen İşleri is escalated.
    report_done(db, "zabita.memur")
    waiting = [w for w in details(db, instance_id)["waiting"] if w["type"] == "timer"]
    assert [w["fire_at"] for w in waiting] == ["2026-12-04T14:30:00+00:00"]

    assert timers.fire_due(db, datetime(2026, 12, 4, 14, 29, tzinfo=UTC)).fired_instances == []
    assert open_tasks(db, "fenisleri.mudur") == [only_task(db, "fenisleri.mudur", "Task_birim_bildirimi")]
    fired = timers.fire_due(db, datetime(2026, 12, 4, 14, 31, tzinfo=UTC))
    assert fired.fired_instances == [instance_id]
    escalation = only_task(db, "fenisleri.mudur", "Task_eskalasyon")
    assert escalation["candidate_groups"] == ["fen_isleri/yonetici"]
    assert escalation["priority"] == 90
    # The clerk does not see the manager's task; other managers do not either.
    assert [t["bpmn_id"] for t in open_tasks(db, "fenisleri.memur")] == ["Task_birim_bildirimi"]
    assert open_tasks(db, "zabita.mudur") == []
    # Non-interrupting: the unit can still report, and the timer does not fire twice.
    assert timers.fire_due(db, datetime(2026, 12, 5, 9, 0, tzinfo=UTC)).fired_instances == []

    with clock.frozen_at(datetime(2026, 12, 7, 6, 0, tzinfo=UTC)):
        complete(
            db,
            "fenisleri.mudur",
            escalation["id"],
            {"gecikme_nedeni": "Malzeme gecikti; ekip artırıldı.", "yeni_tahmini_tarih": "2026-12-09"},
        )
        report_done(db, "fenisleri.memur")
        review(db, {"karar": "tamamlandi"})
    data = details(db, instance_id)["data"]
    assert data["sonuc"] == "tamamlandi" and data["kaynak"] == "F7"
    assert sorted(r["birim"] for r in data["birim_raporlari"]) == ["fen_isleri", "zabita"]


def test_review_asks_more_work_from_one_unit_then_completes(db):
    deploy_flow(db, "talimat")
    instance_id = start(db, "f10_talimat_takibi", "ok.sef", data={**TALIMAT, "oncelik": "normal"})
    assert only_task(db, "fenisleri.memur", "Task_birim_bildirimi")["priority"] == 50
    report_done(db, "fenisleri.memur")
    report_done(db, "zabita.memur")
    with pytest.raises(InvalidInput) as err:
        review(db, {"karar": "ek_calisma", "ek_calisma_birimleri": ["zabita"], "ek_son_tarih": "2026-12-11"})
    assert "inceleme_notu" in err.value.field_errors
    review(
        db,
        {
            "karar": "ek_calisma",
            "inceleme_notu": "Zabıta denetim tutanağını eklesin.",
            "ek_calisma_birimleri": ["zabita"],
            "ek_son_tarih": "2026-12-11",
        },
    )
    assert open_tasks(db, "fenisleri.memur") == []
    second = only_task(db, "zabita.memur", "Task_birim_bildirimi")
    assert second["due_at"] == "2026-12-11T14:30:00+00:00"
    report_done(db, "zabita.memur", "Tutanak eklendi.")
    review(db, {"karar": "tamamlandi"})
    data = details(db, instance_id)["data"]
    assert data["sonuc"] == "tamamlandi"
    assert sorted((r["birim"], r["takip_turu"]) for r in data["birim_raporlari"]) == [
        ("fen_isleri", 1),
        ("zabita", 1),
        ("zabita", 2),
    ]


def test_review_cancels_the_instruction(db):
    deploy_flow(db, "talimat")
    instance_id = start(db, "f10_talimat_takibi", "ok.sef", data={**TALIMAT, "hedef_birimler": ["imar"]})
    report_done(db, "imar.memur")
    with pytest.raises(InvalidInput):
        review(db, {"karar": "iptal"})
    review(db, {"karar": "iptal", "inceleme_notu": "Başkan talimatı geri aldı."})
    detail = details(db, instance_id)
    assert detail["status"] == "completed"
    assert detail["data"]["sonuc"] == "iptal" and detail["data"]["iptal_gerekcesi"] == "Başkan talimatı geri aldı."


def test_cancellation_message_withdraws_every_open_unit_task(db):
    deploy_flow(db, "talimat")
    instance_id = start(db, "f10_talimat_takibi", "ok.sef", business_key="TLM-IPTAL-1", data=TALIMAT)
    assert len(open_tasks(db, "fenisleri.memur")) == 1
    act(
        db,
        None,
        lambda s, a: messages.correlate(s, a, "f10_talimat_iptal", "TLM-IPTAL-1", {"gerekce": "Konu gündemden çıktı."}),
    )
    assert open_tasks(db, "fenisleri.memur") == [] and open_tasks(db, "zabita.memur") == []
    detail = details(db, instance_id)
    assert detail["status"] == "completed" and detail["waiting"] == []
    assert detail["data"]["sonuc"] == "iptal"
    assert detail["data"]["iptal_gerekcesi"] == "Konu gündemden çıktı."


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ({"oncelik": "yuksek"}, "oncelik"),
        ({"hedef_birimler": {"fen_isleri": True}}, "hedef_birimler"),
        ({"son_tarih": "4 Aralık"}, "Invalid isoformat"),
    ],
)
def test_malformed_call_data_is_refused_at_start(db, bad, message):
    deploy_flow(db, "talimat")
    with pytest.raises(ProcessError) as err:
        start(db, "f10_talimat_takibi", "ok.sef", data={**TALIMAT, **bad})
    assert message in str(err.value)


def test_comma_separated_units_are_accepted_for_a_direct_start(db):
    deploy_flow(db, "talimat")
    start(db, "f10_talimat_takibi", "ok.sef", data={**TALIMAT, "hedef_birimler": "fen_isleri, zabita, fen_isleri"})
    assert len(open_tasks(db, "fenisleri.memur")) == 1
    assert len(open_tasks(db, "zabita.memur")) == 1


def test_cancellation_also_closes_an_open_escalation(db):
    deploy_flow(db, "talimat")
    instance_id = start(
        db, "f10_talimat_takibi", "ok.sef", business_key="TLM-IPTAL-2", data={**TALIMAT, "hedef_birimler": ["imar"]}
    )
    assert timers.fire_due(db, datetime(2026, 12, 4, 15, 0, tzinfo=UTC)).fired_instances == [instance_id]
    assert only_task(db, "imar.mudur", "Task_eskalasyon")
    act(db, None, lambda s, a: messages.correlate(s, a, "f10_talimat_iptal", "TLM-IPTAL-2", "Başkan vazgeçti."))
    assert open_tasks(db, "imar.mudur") == [] and open_tasks(db, "imar.memur") == []
    detail = details(db, instance_id)
    assert detail["status"] == "completed"
    assert detail["data"]["sonuc"] == "iptal" and detail["data"]["iptal_gerekcesi"] == "Başkan vazgeçti."
    with pytest.raises(NotFound):
        act(db, None, lambda s, a: messages.correlate(s, a, "f10_talimat_iptal", "TLM-IPTAL-2", None))
