"""F7 — randevu talebi (processes/randevu): registration by the Sekretarya, pre-assessment by the
Özel Kalem Müdürü, the Başkan's decision, informing the requester within 5 business days, a reminder
the day before, the meeting and its minutes; an instruction given in the meeting goes to F10
(processes/talimat), which is deployed together with this flow."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from factories import act, deploy_flow, only_task, open_tasks, read, start
from sqlalchemy import select

from engine import clock, definitions, demo, instances, tasks, timers
from engine.errors import InvalidInput, NotAllowed, NotFound
from engine.models import HumanTask, Notification
from forms.samples import sample_values

KEY = "f7_randevu"
IST = ZoneInfo("Europe/Istanbul")
# Monday 5 April 2027, 10:00 in Istanbul (no holiday before 23 April).
MONDAY = datetime(2027, 4, 5, 10, 0, tzinfo=IST)
# First answer within 5 business days: Monday 12 April, 17:30 in Istanbul.
SLA_UTC = "2027-04-12T14:30:00+00:00"
F7_TASKS = {"Task_talep", "Task_on", "Task_karar", "Task_tarih_onerisi", "Task_bildirim", "Task_gorusme"}
REQUEST = {
    "basvuran_ad_soyad": "Ayşe Demir",
    "basvuran_kurum": "Karşıyaka Esnaf Derneği",
    "basvuran_telefon": "0532 111 22 33",
    "basvuran_eposta": "ayse.demir@example.org",
    "konu": "Çarşı bölgesindeki otopark sorunu",
    "tercih_tarihi_1": "2027-04-08",
    "tercih_tarihi_2": "2027-04-09",
    "kisi_sayisi": 3,
    "kanal": "telefon",
    "aydinlatma_metni_gosterildi": True,
}


def at(day: int, hour: int, minute: int = 0, second: int = 0) -> datetime:
    return datetime(2027, 4, day, hour, minute, second, tzinfo=IST)


def complete(db, username: str, task_id: int, data: dict) -> None:
    act(db, username, lambda s, a: tasks.complete(s, a, task_id, data))


def show(db, instance_id: int) -> dict:
    return act(db, None, lambda s, a: instances.show(s, a, instance_id).as_dict())


def outbox(db) -> list[tuple[str, str, str, str]]:
    return read(
        db,
        lambda s: [
            (n.channel, n.recipient, n.subject, n.body)
            for n in s.scalars(select(Notification).order_by(Notification.id))
        ],
    )


def mine(db, username: str, instance_id: int) -> list[str]:
    return [t["bpmn_id"] for t in open_tasks(db, username) if t["instance_id"] == instance_id]


def registered(db, request: dict | None = None) -> int:
    deploy_flow(db, "randevu", "talimat")
    with clock.frozen_at(MONDAY):
        instance_id = start(db, KEY, username="sekreter1", business_key="RND-1")
        talep = only_task(db, "sekreter2", "Task_talep")
        assert talep["candidate_groups"] == ["sekretarya"]
        complete(db, "sekreter2", talep["id"], request or REQUEST)
    return instance_id


def to_the_baskan(db, request: dict | None = None) -> int:
    instance_id = registered(db, request)
    with clock.frozen_at(MONDAY):
        on = only_task(db, "ok.mudur2", "Task_on")
        assert on["candidate_groups"] == ["ozel_kalem_muduru"] and on["due_at"] == SLA_UTC
        complete(db, "ok.mudur2", on["id"], {"on_karar": "baskana_sun"})
    return instance_id


def decide(db, decision: dict, when: datetime = MONDAY) -> None:
    karar = only_task(db, "baskan", "Task_karar")
    assert karar["candidate_groups"] == ["baskan"] and karar["due_at"] == SLA_UTC
    with clock.frozen_at(when):
        complete(db, "baskan", karar["id"], decision)


def inform(db, data: dict | None = None) -> None:
    bildirim = only_task(db, "sekreter1", "Task_bildirim")
    assert bildirim["candidate_groups"] == ["sekretarya"] and bildirim["due_at"] == SLA_UTC
    with clock.frozen_at(MONDAY):
        complete(db, "sekreter1", bildirim["id"], data or {"bildirim_kanali": "telefon", "takvime_islendi": True})


def accepted(db, slot: str = "2027-04-08T14:00:00+03:00", request: dict | None = None) -> int:
    instance_id = to_the_baskan(db, request)
    decide(db, {"randevu_karari": "kabul", "randevu_slotu": slot})
    inform(db)
    return instance_id


def ended(db, instance_id: int, result: str) -> dict:
    detail = show(db, instance_id)
    assert detail["status"] == "completed" and detail["waiting"] == [] and detail["open_tasks"] == []
    assert detail["data"]["sonuc"] == result
    return detail


# --- the called F10 process, driven with valid example values of its own forms -------------------


def _doer(group: str) -> str:
    code, _sep, role = group.partition("/")
    for username, _name, _title, memberships in demo.all_users():
        if any(c == code and (is_manager or not role) for c, is_manager in memberships):
            return username
    raise AssertionError(f"no demo user for {group}")


def finish_called_process(db, instance_id: int, moment: datetime, max_steps: int = 40) -> dict[str, dict]:
    """Complete every open task of the case that is not an F7 task (F10's), as a user who may do it,
    with example values of the task's own form, until only F7 remains or the case ends. Returns the
    case data seen when each task was first reached, by task id."""
    visits: Counter[str] = Counter()
    seen: dict[str, dict] = {}
    for _ in range(max_steps):
        detail = show(db, instance_id)
        others = [t for t in detail["open_tasks"] if t["bpmn_id"] not in F7_TASKS]
        if not others:
            return seen
        task = others[0]
        seen.setdefault(task["bpmn_id"], detail["data"])
        user = task["assignee"] or _doer(task["candidate_groups"][0])
        form = read(db, lambda s, t=task: definitions.form_for_task(s, s.get(HumanTask, t["id"])))
        errors = None
        for attempt in range(8):
            values = sample_values(form, variant=visits[task["bpmn_id"]] + attempt, now=moment) if form else {}
            for field in form.fields if form else ():
                if field.type == "file" and (field.when is None or field.when.holds(values)):
                    values[field.name] = {"filename": "kanit.pdf", "sha256": "a" * 64}
            try:
                with clock.frozen_at(moment):
                    complete(db, user, task["id"], values)
                break
            except InvalidInput as exc:
                errors = exc.field_errors
        else:
            raise AssertionError(f"{task['bpmn_id']}: no valid example values: {errors}")
        visits[task["bpmn_id"]] += 1
    raise AssertionError(f"F10 did not finish: {dict(visits)}")


# --- paths ----------------------------------------------------------------------------------------


def test_accepted_appointment_reminder_meeting_and_instruction_to_f10(db) -> None:
    instance_id = registered(db)
    data = show(db, instance_id)["data"]
    assert data["kayit_no"] == "RND-2027-000001"
    assert data["ilk_cevap_son_tarihi"] == "2027-04-12T17:30:00+03:00"
    assert data["basvuran_telefon"] == "+905321112233"
    with clock.frozen_at(MONDAY):
        complete(db, "ok.mudur", only_task(db, "ok.mudur", "Task_on")["id"], {"on_karar": "baskana_sun"})
    decide(db, {"randevu_karari": "kabul", "randevu_slotu": "2027-04-08T14:00:00+03:00"})
    # The requester gave an e-mail address: the decision goes out at once.
    assert outbox(db) == [
        (
            "email",
            "ayse.demir@example.org",
            "Randevu talebiniz hakkında (RND-2027-000001)",
            "Sayın Ayşe Demir, RND-2027-000001 sayılı randevu talebiniz kabul edilmiştir. "
            "Görüşme zamanı: 08.04.2027 14:00.",
        )
    ]
    bildirim = only_task(db, "sekreter1", "Task_bildirim")
    with clock.frozen_at(MONDAY), pytest.raises(InvalidInput) as err:
        complete(db, "sekreter1", bildirim["id"], {"bildirim_kanali": "e_posta", "takvime_islendi": False})
    assert set(err.value.field_errors) == {"takvime_islendi"}
    inform(db, {"bildirim_kanali": "e_posta", "takvime_islendi": True})

    gorusme = only_task(db, "idari2", "Task_gorusme")
    assert gorusme["candidate_groups"] == ["idari_isler"]
    assert gorusme["due_at"] == "2027-04-09T14:30:00+00:00"  # end of the next business day after the meeting
    assert mine(db, "sekreter1", instance_id) == []
    assert [w["fire_at"] for w in show(db, instance_id)["waiting"]] == ["2027-04-07T11:00:00+00:00"]
    assert timers.fire_due(db, at(7, 13, 59)).fired_instances == []
    assert timers.fire_due(db, at(7, 14, 0, 1)).fired_instances == [instance_id]
    assert outbox(db)[-1][:3] == ("email", "ayse.demir@example.org", "Randevu hatırlatması (RND-2027-000001)")
    assert "08.04.2027 14:00" in outbox(db)[-1][3]
    assert only_task(db, "idari1", "Task_gorusme")["id"] == gorusme["id"]

    minutes = {
        "gorusme_sonucu": "gerceklesti",
        "tutanak": "Otopark için geçici çözüm konuşuldu.",
        "katilimcilar": "Ayşe Demir ve iki dernek üyesi",
        "talimat_var": True,
        "talimat_metni": "Çarşı otoparkı için geçici düzenleme yapılsın.",
        "hedef_birimler": ["fen_isleri", "zabita"],
        "talimat_son_tarihi": "2027-04-30",
        "talimat_onceligi": "acele",
    }
    with clock.frozen_at(at(8, 15)):
        complete(db, "idari1", gorusme["id"], minutes)
    # F10 now follows the instruction in each target directorate, inside this case.
    detail = show(db, instance_id)
    assert detail["status"] == "running"
    assert sorted(t["candidate_groups"][0] for t in detail["open_tasks"]) == ["fen_isleri", "zabita"]
    assert all(t["bpmn_id"] not in F7_TASKS and t["due_at"] for t in detail["open_tasks"])
    assert (detail["data"]["talimat_metni"], detail["data"]["son_tarih"], detail["data"]["oncelik"]) == (
        "Çarşı otoparkı için geçici düzenleme yapılsın.",
        "2027-04-30",
        "acele",
    )
    assert len(mine(db, "fenisleri.memur", instance_id)) == 1 and len(mine(db, "zabita.memur", instance_id)) == 1
    assert mine(db, "parkbahceler.memur", instance_id) == []

    seen = finish_called_process(db, instance_id, at(9, 10))
    # F10's review step saw the whole interface F7 passed, with F7 as the source.
    review = next(data for data in seen.values() if "kaynak" in data)
    assert (review["kaynak"], review["hedef_birimler"]) == ("F7", ["fen_isleri", "zabita"])
    detail = ended(db, instance_id, "gerceklesti")
    assert detail["data"]["talimat_no"].startswith("TLM-2027-")
    assert detail["data"]["talimat_sonucu"] in ("tamamlandi", "iptal")
    assert detail["data"]["kayit_no"] == "RND-2027-000001"  # F7's own data survives the call


def test_meeting_without_instruction_and_reminder_by_sms_when_only_a_phone_is_known(db) -> None:
    request = {k: v for k, v in REQUEST.items() if k != "basvuran_eposta"}
    instance_id = accepted(db, request=request)
    assert outbox(db) == []  # no e-mail address: the Sekretarya informs by phone
    assert timers.fire_due(db, at(7, 14, 0, 1)).fired_instances == [instance_id]
    assert [(c, r, s) for c, r, s, _b in outbox(db)] == [
        ("sms", "+905321112233", "Randevu hatırlatması (RND-2027-000001)")
    ]
    with clock.frozen_at(at(8, 15)):
        complete(
            db,
            "idari1",
            only_task(db, "idari1", "Task_gorusme")["id"],
            {"gorusme_sonucu": "gerceklesti", "tutanak": "Bilgi verildi.", "talimat_var": False},
        )
    assert "talimat_no" not in ended(db, instance_id, "gerceklesti")["data"]


@pytest.mark.parametrize(
    ("outcome", "extra", "result"),
    [
        ("gelmedi", {}, "gelmedi"),
        ("iptal", {"iptal_gerekcesi": "Başkanın programı değişti."}, "iptal"),
    ],
)
def test_requester_did_not_come_or_the_meeting_was_cancelled(db, outcome: str, extra: dict, result: str) -> None:
    instance_id = accepted(db)
    gorusme = only_task(db, "idari1", "Task_gorusme")
    if outcome == "iptal":
        with pytest.raises(InvalidInput) as err:
            complete(db, "idari1", gorusme["id"], {"gorusme_sonucu": "iptal"})
        assert set(err.value.field_errors) == {"iptal_gerekcesi"}
    # Done before the reminder: the reminder timer goes away with the task.
    complete(db, "idari1", gorusme["id"], {"gorusme_sonucu": outcome, **extra})
    ended(db, instance_id, result)
    assert timers.fire_due(db, at(7, 14, 0, 1)).fired_instances == []
    assert len(outbox(db)) == 1


def test_ozel_kalem_muduru_routes_the_request_to_a_directorate(db) -> None:
    instance_id = registered(db)
    on = only_task(db, "ok.mudur", "Task_on")
    with clock.frozen_at(MONDAY):
        with pytest.raises(InvalidInput) as err:
            complete(db, "ok.mudur", on["id"], {"on_karar": "mudurluge_yonlendir"})
        assert set(err.value.field_errors) == {"yonlendirilen_birim"}
        complete(db, "ok.mudur", on["id"], {"on_karar": "mudurluge_yonlendir", "yonlendirilen_birim": "zabita"})
    assert mine(db, "baskan", instance_id) == []
    assert outbox(db)[0][3].endswith(
        "Zabıta Müdürlüğü birimine yönlendirilmiştir. Sizinle bu birim iletişime geçecektir."
    )
    inform(db, {"bildirim_kanali": "e_posta", "takvime_islendi": False})
    assert [(c, r, s) for c, r, s, _b in outbox(db)][1] == (
        "email",
        "zabita@kalem.local",
        "Yönlendirilen randevu talebi (RND-2027-000001)",
    )
    ended(db, instance_id, "yonlendirildi")


@pytest.mark.parametrize(
    ("decision", "result", "recipients"),
    [
        ({"randevu_karari": "reddet", "karar_notu": "Program yoğun."}, "reddedildi", ["ayse.demir@example.org"]),
        (
            {
                "randevu_karari": "yonlendir",
                "yonlendirilen_birim": "baskan_yardimcisi",
                "yonlendirilen_kisi": "Mehmet Kaya",
            },
            "yonlendirildi",
            ["ayse.demir@example.org", "baskan_yardimcisi@kalem.local"],
        ),
    ],
)
def test_baskan_declines_or_delegates(db, decision: dict, result: str, recipients: list[str]) -> None:
    instance_id = to_the_baskan(db)
    decide(db, decision)
    inform(db, {"bildirim_kanali": "telefon", "takvime_islendi": False})
    assert [r for _c, r, _s, _b in outbox(db)] == recipients
    ended(db, instance_id, result)


def test_other_date_proposed_then_a_new_preference_then_accepted(db) -> None:
    instance_id = to_the_baskan(db)
    decide(db, {"randevu_karari": "baska_tarih", "onerilen_zaman": "2027-04-09T11:00:00+03:00"})
    assert outbox(db) == []  # the Sekretarya calls the requester and records the answer
    oneri = only_task(db, "sekreter2", "Task_tarih_onerisi")
    assert oneri["due_at"] == SLA_UTC
    with clock.frozen_at(MONDAY):
        with pytest.raises(InvalidInput) as err:
            complete(
                db,
                "sekreter2",
                oneri["id"],
                {"talep_eden_yaniti": "yeni_tarih_istedi", "yeni_tercih_tarihi": "2027-04-02"},
            )
        assert set(err.value.field_errors) == {"yeni_tercih_tarihi"}
        complete(
            db, "sekreter2", oneri["id"], {"talep_eden_yaniti": "yeni_tarih_istedi", "yeni_tercih_tarihi": "2027-04-14"}
        )
    assert show(db, instance_id)["data"]["tercih_tarihi_1"] == "2027-04-14"
    decide(db, {"randevu_karari": "baska_tarih", "onerilen_zaman": "2027-04-14T16:00:00+03:00"}, when=at(6, 9))
    with clock.frozen_at(at(6, 10)):
        complete(
            db, "sekreter1", only_task(db, "sekreter1", "Task_tarih_onerisi")["id"], {"talep_eden_yaniti": "kabul_etti"}
        )
    assert "Görüşme zamanı: 14.04.2027 16:00." in outbox(db)[0][3]
    inform(db)
    assert only_task(db, "idari1", "Task_gorusme")["due_at"] == "2027-04-15T14:30:00+00:00"
    assert [w["fire_at"] for w in show(db, instance_id)["waiting"]] == ["2027-04-13T13:00:00+00:00"]


def test_requester_gives_up_after_the_proposal(db) -> None:
    instance_id = to_the_baskan(db)
    decide(db, {"randevu_karari": "baska_tarih", "onerilen_zaman": "2027-04-09T11:00:00+03:00"})
    complete(db, "sekreter1", only_task(db, "sekreter1", "Task_tarih_onerisi")["id"], {"talep_eden_yaniti": "vazgecti"})
    ended(db, instance_id, "iptal")


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"basvuran_telefon": None, "basvuran_eposta": None}, "basvuran_telefon"),
        ({"basvuran_eposta": "ayse@"}, "basvuran_eposta"),
        ({"basvuran_telefon": "12"}, "basvuran_telefon"),
        ({"basvuran_ad_soyad": None}, "basvuran_ad_soyad"),
        ({"konu": "x" * 501}, "konu"),
        ({"konu": None}, "konu"),
        ({"tercih_tarihi_1": "2027-04-02"}, "tercih_tarihi_1"),
        ({"tercih_tarihi_2": "2027-04-04"}, "tercih_tarihi_2"),
        ({"kisi_sayisi": 0}, "kisi_sayisi"),
        ({"kisi_sayisi": 51}, "kisi_sayisi"),
        ({"kanal": "guvercin"}, "kanal"),
        ({"aydinlatma_metni_gosterildi": False}, "aydinlatma_metni_gosterildi"),
    ],
)
def test_invalid_requests_are_refused_naming_the_field(db, overrides: dict, field: str) -> None:
    deploy_flow(db, "randevu", "talimat")
    request = {k: v for k, v in {**REQUEST, **overrides}.items() if v is not None}
    with clock.frozen_at(MONDAY):
        instance_id = start(db, KEY, username="sekreter1", business_key="RND-9")
        talep = only_task(db, "sekreter1", "Task_talep")
        with pytest.raises(InvalidInput) as err:
            complete(db, "sekreter1", talep["id"], request)
    assert field in err.value.field_errors
    assert mine(db, "sekreter1", instance_id) == ["Task_talep"]


@pytest.mark.parametrize(
    ("decision", "field"),
    [
        ({"randevu_karari": "kabul"}, "randevu_slotu"),
        ({"randevu_karari": "kabul", "randevu_slotu": "2027-04-05T09:00:00+03:00"}, "randevu_slotu"),
        ({"randevu_karari": "baska_tarih"}, "onerilen_zaman"),
        ({"randevu_karari": "yonlendir"}, "yonlendirilen_birim"),
        ({"randevu_karari": "yonlendir", "yonlendirilen_birim": "baskan"}, "yonlendirilen_birim"),
        ({"randevu_karari": "ertele"}, "randevu_karari"),
    ],
)
def test_invalid_decisions_are_refused_naming_the_field(db, decision: dict, field: str) -> None:
    instance_id = to_the_baskan(db)
    with pytest.raises(InvalidInput) as err:
        decide(db, decision)
    assert field in err.value.field_errors
    assert mine(db, "baskan", instance_id) == ["Task_karar"]


@pytest.mark.parametrize(
    ("minutes", "field"),
    [
        ({"gorusme_sonucu": "gerceklesti", "talimat_var": False}, "tutanak"),
        ({"gorusme_sonucu": "gerceklesti", "tutanak": "Görüşüldü."}, "talimat_var"),
        ({"gorusme_sonucu": "gerceklesti", "tutanak": "Görüşüldü.", "talimat_var": True}, "talimat_metni"),
        (
            {
                "gorusme_sonucu": "gerceklesti",
                "tutanak": "Görüşüldü.",
                "talimat_var": True,
                "talimat_metni": "Yol onarılsın.",
                "hedef_birimler": ["fen_isleri"],
                "talimat_son_tarihi": "2027-04-01",
                "talimat_onceligi": "normal",
            },
            "talimat_son_tarihi",
        ),
        (
            {
                "gorusme_sonucu": "gerceklesti",
                "tutanak": "Görüşüldü.",
                "talimat_var": True,
                "talimat_metni": "Yol onarılsın.",
                "hedef_birimler": ["fen_isleri", "belediye_bahcesi"],
                "talimat_son_tarihi": "2027-04-30",
                "talimat_onceligi": "normal",
            },
            "hedef_birimler",
        ),
    ],
)
def test_invalid_minutes_are_refused_naming_the_field(db, minutes: dict, field: str) -> None:
    instance_id = accepted(db)
    gorusme = only_task(db, "idari1", "Task_gorusme")
    with clock.frozen_at(at(8, 15)), pytest.raises(InvalidInput) as err:
        complete(db, "idari1", gorusme["id"], minutes)
    assert field in err.value.field_errors
    assert mine(db, "idari1", instance_id) == ["Task_gorusme"]


def test_a_directorate_clerk_sees_none_of_these_tasks(db) -> None:
    instance_id = registered(db)
    on = only_task(db, "ok.mudur", "Task_on")
    for outsider in ("fenisleri.memur", "fenisleri.mudur", "sekreter1", "idari1", "baskan", "protokol1"):
        assert mine(db, outsider, instance_id) == []
    with pytest.raises(NotFound):
        act(db, "fenisleri.memur", lambda s, a: tasks.show(s, a, on["id"]))
    with pytest.raises(NotFound):
        act(db, "fenisleri.memur", lambda s, a: instances.show(s, a, instance_id))
    with pytest.raises((NotFound, NotAllowed)):
        complete(db, "baskan", on["id"], {"on_karar": "baskana_sun"})
    with clock.frozen_at(MONDAY):
        complete(db, "ok.mudur", on["id"], {"on_karar": "baskana_sun"})
    karar = only_task(db, "baskan", "Task_karar")
    for outsider in ("fenisleri.memur", "sekreter1", "ok.mudur2", "by.kaya"):
        assert mine(db, outsider, instance_id) == []
    with pytest.raises((NotFound, NotAllowed)):
        complete(db, "ok.mudur2", karar["id"], {"randevu_karari": "reddet"})
