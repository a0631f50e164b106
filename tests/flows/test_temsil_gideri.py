"""F6 — temsil, ağırlama, tören giderleri (processes/temsil_gideri): talep, takdir by the authority the
DMN names, harcama talimatı, sipariş, muayene-kabul, fatura (over the talimat: back to takdir), ödeme
emri belgesi with its checklist, the payment file PDF, Mali Hizmetler control (paid or returned), and
the iptal and rejection ends. Dates are in May–June 2026 (Kurban Bayramı 27–30 May)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from factories import act, deploy_flow, only_task, open_tasks, read, start
from sqlalchemy import select

from engine import attachments, clock, instances, tasks
from engine.errors import InvalidInput, NotFound
from engine.models import Attachment

KEY = "f6_temsil_gideri"
IST = ZoneInfo("Europe/Istanbul")


def at(month: int, day: int, hour: int = 10) -> datetime:
    return datetime(2026, month, day, hour, 0, tzinfo=IST)


def show(db, instance_id: int) -> dict:
    return act(db, None, lambda s, a: instances.show(s, a, instance_id).as_dict())


def complete(db, username: str, bpmn_id: str, values: dict, files: tuple[str, ...] = ()) -> dict:
    """Complete the one open ``bpmn_id`` task ``username`` sees, uploading a small PDF for each file field."""
    task = only_task(db, username, bpmn_id)
    data = dict(values)
    for field in files:
        data[field] = act(
            db,
            username,
            lambda s, a, f=field: attachments.store_for_task(s, a, task["id"], f, f"{f}.pdf", b"%PDF-1.4\n% ek\n"),
        )
    act(db, username, lambda s, a: tasks.complete(s, a, task["id"], data))
    return task


def refused(db, username: str, bpmn_id: str, values: dict) -> dict[str, list[str]]:
    """The field errors of a refused completion; the task stays open."""
    task = only_task(db, username, bpmn_id)
    with pytest.raises(InvalidInput) as err:
        act(db, username, lambda s, a: tasks.complete(s, a, task["id"], values))
    assert only_task(db, username, bpmn_id)["state"] == task["state"]
    return err.value.field_errors


def talep(**overrides) -> dict:
    values = {
        "talep_eden_adi": "İpek Kılıç, Protokol Sorumlusu",
        "gider_turu": "agirlama",
        "agirlama_misafir_sinifi": "basin",
        "agirlama_kalemleri": ["ziyafet", "hediye"],
        "etkinlik_adi": "Çalışan Gazeteciler Günü yemeği",
        "amac": "Yerel basın mensuplarıyla 10 Ocak buluşması; kentin tanıtımına katkı.",
        "etkinlik_zamani": "2026-05-08T19:00:00+03:00",
        "etkinlik_yeri": "Belediye sosyal tesisi",
        "ziyafet_var": True,
        "misafir_sayisi": 40,
        "misafir_listesi": "Ayşe Demir, muhabir, basın\nCan Öz, editör, basın",
        "mihmandar_var": True,
        "mihmandar_kapsami": "Misafirlerin otelden tesise ulaşımı ve yemeği.",
        "tahmini_tutar": "60.000,00",
        "butce_tertibi": "46.35.01.02-01.1.1.00-5-03.6.1.01",
    }
    values.update(overrides)
    return {k: v for k, v in values.items() if v is not None}


def takdir(tutar: str = "55000.00", **overrides) -> dict:
    return {"karar": "olur", "onaylanan_tutar": tutar, "onay_veren_adi": "Ahmet Yılmaz, Belediye Başkanı", **overrides}


def talimat(tutar: str = "55000.00", **overrides) -> dict:
    return {
        "talimat_karari": "talimat_ver",
        "talimat_konusu": "Basın yemeği",
        "talimat_gerekcesi": "Başkan oluru uyarınca.",
        "talimat_suresi": "08.05.2026 akşamı",
        "hukuki_dayanak": "5393 m.38(o), 60(k); Temsil Yönergesi m.5",
        "talimat_tutari": tutar,
        "kullanilabilir_odenek": "250000",
        "gerceklestirme_usulu": "dogrudan_temin_22d",
        "gerceklestirme_gorevlileri": "Ali Koç, Memur",
        "harcama_yetkilisi_adi": "Ayşe Çelik, Özel Kalem Müdürü",
        **overrides,
    }


SIPARIS = {
    "siparis_durumu": "siparis_verildi",
    "teklif_sayisi": 3,
    "tedarikci_adi": "Ege Lezzet Organizasyon Ltd. Şti.",
    "tedarikci_kimlik_turu": "vkn",
    "tedarikci_vkn": "1234567890",
    "siparis_tarihi": "2026-05-05",
    "siparis_tutari": "54000",
}
MUAYENE = {
    "teslim_tarihi": "2026-05-08",
    "kabul_turu": "hizmet",
    "teslim_aciklamasi": "40 kişilik akşam yemeği verildi.",
    "katilimci_sayisi": 38,
    "dayanikli_tasinir": False,
    "siparise_uygun": True,
    "muayene_gorevlisi_adi": "Kemal Bulut",
}


def fatura(tutar: str = "54000", **overrides) -> dict:
    return {
        "belge_turu": "e_fatura",
        "fatura_no": "EGE2026000000123",
        "fatura_tarihi": "2026-05-11",
        "satici_kimlik_no": "1234567890",
        "fatura_tutari": tutar,
        "kdv_tutari": "9000",
        **overrides,
    }


OEB = {
    "oeb_no": "2026/145",
    "oeb_tarihi": "2026-05-12",
    "oeb_aciklama": "Çalışan Gazeteciler Günü basın yemeği (ağırlama) gideri.",
    "baskan_oluru_ekli": True,
    "harcama_talimati_ekli": True,
    "piyasa_arastirmasi_ekli": False,
    "piyasa_arastirmasi_yok_gerekcesi": "Tutanak Destek Hizmetlerinin dosyasında",
    "muayene_kabul_ekli": True,
    "fatura_ekli": True,
    "davetli_mihmandar_ekli": True,
    "tasinir_islem_fisi_ekli": False,
    "tasinir_islem_fisi_yok_gerekcesi": "Dayanıklı taşınır alınmadı",
    "gerceklestirme_gorevlisi_adi": "Ali Koç, Memur",
}
OEB_FILES = (
    "baskan_oluru_dosya",
    "harcama_talimati_dosya",
    "muayene_kabul_dosya",
    "fatura_dosya",
    "davetli_mihmandar_dosya",
)
IMZA = {"imza_karari": "imzala", "oeb_imzalayan_adi": "Ayşe Çelik, Özel Kalem Müdürü"}
SEVK = {"ust_yazi_sayisi": "E-12345678-840-2026/77", "ust_yazi_tarihi": "2026-05-13", "teslim_sekli": "ebys"}
ODENDI = {
    "kontrol_sonucu": "uygun_odendi",
    "odeme_tarihi": "2026-05-20",
    "yevmiye_no": "4711",
    "muhasebe_yetkilisi_adi": "Muhasebe Yetkilisi",
}


def started(db, business_key: str = "TMS-1", **overrides) -> int:
    """A case whose talep was filled in by Protokol on Monday 4 May 2026."""
    deploy_flow(db, "temsil_gideri")
    with clock.frozen_at(at(5, 4)):
        instance_id = start(db, KEY, username="protokol1", business_key=business_key)
        complete(db, "protokol1", "Task_talep", talep(**overrides))
    return instance_id


def ordered(db, business_key: str = "TMS-1") -> int:
    """Approved by the Başkan (55.000 TL of the 60.000 asked), talimat given, ordered and accepted."""
    instance_id = started(db, business_key)
    with clock.frozen_at(at(5, 5)):
        complete(db, "baskan", "Task_takdir", takdir())
        complete(db, "ok.mudur", "Task_talimat", talimat())
        complete(db, "satinalma1", "Task_siparis", SIPARIS)
    with clock.frozen_at(at(5, 8, 22)):
        complete(db, "muayene1", "Task_muayene", MUAYENE)
    return instance_id


def invoiced(db, business_key: str = "TMS-1") -> int:
    instance_id = ordered(db, business_key)
    with clock.frozen_at(at(5, 11)):
        complete(db, "idari1", "Task_fatura", fatura())
    return instance_id


def sent(db, business_key: str = "TMS-1") -> int:
    """Up to Mali Hizmetler: ÖEB prepared and signed, the payment file built and sent."""
    instance_id = invoiced(db, business_key)
    with clock.frozen_at(at(5, 12)):
        complete(db, "idari1", "Task_oeb", OEB, files=OEB_FILES)
        complete(db, "ok.mudur", "Task_oeb_imza", IMZA)
    with clock.frozen_at(at(5, 13)):
        complete(db, "idari2", "Task_sevk", SEVK)
    return instance_id


def stored_attachment(db, reference: dict) -> Attachment:
    return read(db, lambda s: s.get(Attachment, reference["attachment_id"]))


# --- happy path ------------------------------------------------------------------------------------


def test_expense_is_approved_ordered_invoiced_and_paid_with_a_payment_file(db) -> None:
    instance_id = started(db)
    data = show(db, instance_id)["data"]
    assert data["kayit_no"] == "TMS-2026-000001"
    assert (data["alt_tur"], data["takdir_tutari"]) == ("basin", "60000.00")
    # 60.000 TL is above the delegated limits: only the Başkan decides.
    assert data["onay_grubu"] == "baskan"
    assert only_task(db, "baskan", "Task_takdir")["candidate_groups"] == ["baskan"]
    assert open_tasks(db, "ok.mudur") == [] and open_tasks(db, "by.kaya") == []
    with clock.frozen_at(at(5, 5)):
        complete(db, "baskan", "Task_takdir", takdir())
        assert open_tasks(db, "fenisleri.memur") == []
        complete(db, "ok.mudur", "Task_talimat", talimat())
        complete(db, "satinalma1", "Task_siparis", SIPARIS)
    with clock.frozen_at(at(5, 8, 22)):
        complete(db, "muayene1", "Task_muayene", MUAYENE)
    with clock.frozen_at(at(5, 11)):
        complete(db, "idari1", "Task_fatura", fatura())
    oeb = only_task(db, "idari2", "Task_oeb")
    # 10 business days after the invoice of Mon 11 May, skipping Tue 19 May (a holiday): the 10th is
    # Tue 26 May, the Kurban Bayramı arife, a half day ending at 13:00 Istanbul time.
    assert oeb["due_at"] == "2026-05-26T10:00:00+00:00"
    with clock.frozen_at(at(5, 12)):
        complete(db, "idari1", "Task_oeb", OEB, files=OEB_FILES)
        assert only_task(db, "ok.mudur", "Task_oeb_imza")["due_at"] == oeb["due_at"]
        complete(db, "ok.mudur", "Task_oeb_imza", IMZA)
    detail = show(db, instance_id)
    reference = detail["data"]["odeme_dosyasi"]
    assert (
        reference["content_type"] == "application/pdf" and reference["filename"] == "odeme_dosyasi_TMS-2026-000001.pdf"
    )
    row = stored_attachment(db, reference)
    assert (row.instance_id, row.uploaded_by, row.sha256) == (instance_id, "system", reference["sha256"])
    assert attachments.path_for(row.sha256).read_bytes().startswith(b"%PDF")
    assert [o["asama"] for o in detail["data"]["onaylar"]] == [
        "Takdir (olur)",
        "Harcama talimatı",
        "Ödeme emri belgesi",
    ]
    assert [t["bpmn_id"] for t in detail["open_tasks"]] == ["Task_sevk"]
    with clock.frozen_at(at(5, 13)):
        complete(db, "idari2", "Task_sevk", SEVK)
    assert open_tasks(db, "idari1") == [] and open_tasks(db, "baskan") == []
    mali = only_task(db, "mali.muhasebe", "Task_mali_kontrol")
    assert mali["candidate_groups"] == ["mali_hizmetler"]
    with clock.frozen_at(at(5, 20)):
        complete(db, "mali.muhasebe", "Task_mali_kontrol", ODENDI)
    detail = show(db, instance_id)
    assert detail["status"] == "completed"
    assert detail["data"]["sonuc"] == "odendi"
    assert detail["data"]["arsiv"]["sdp_kodu"] == "840" and detail["data"]["arsiv"]["sonuc"] == "odendi"
    assert detail["data"]["yevmiye_no"] == "4711"


def test_other_units_neither_see_nor_complete_the_expense_tasks(db) -> None:
    instance_id = started(db)
    takdir_task = only_task(db, "baskan", "Task_takdir")
    for outsider in ("protokol1", "fenisleri.memur", "mali.muhasebe", "satinalma1"):
        assert open_tasks(db, outsider) == []
        with pytest.raises(NotFound):
            act(db, outsider, lambda s, a: tasks.complete(s, a, takdir_task["id"], takdir()))
    assert show(db, instance_id)["open_tasks"][0]["bpmn_id"] == "Task_takdir"


# --- takdir (DMN) ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "amount", "group", "decider", "outsider"),
    [
        ("temsil", "4500", "ozel_kalem_muduru", "ok.mudur", "baskan"),
        ("temsil", "5000.00", "ozel_kalem_muduru", "ok.mudur", "by.kaya"),
        ("temsil", "5000.01", "baskan_yardimcisi", "by.kaya", "ok.mudur"),
        ("toren", "50000", "baskan_yardimcisi", "by.demir", "baskan"),
        ("agirlama", "50000.01", "baskan", "baskan", "by.kaya"),
        ("diger_toren", "1000", "baskan", "baskan", "ok.mudur"),
    ],
)
def test_the_decision_table_names_who_approves_by_amount_and_type(db, kind, amount, group, decider, outsider) -> None:
    extra = {
        "temsil": {"temsil_alt_turu": "plaket"},
        "toren": {"toren_alt_turu": "kurtulus_gunu"},
        "agirlama": {},
        "diger_toren": {"diger_toren_gerekcesi": "İlçemizde her yıl yapılan geleneksel hasat şenliği."},
    }[kind]
    instance_id = started(db, gider_turu=kind, tahmini_tutar=amount, **extra)
    task = only_task(db, decider, "Task_takdir")
    assert task["candidate_groups"] == [group]
    assert [t for t in open_tasks(db, outsider) if t["bpmn_id"] == "Task_takdir"] == []
    assert show(db, instance_id)["data"]["onay_grubu"] == group


def test_a_small_expense_is_approved_by_the_mudur_on_the_mayors_behalf(db) -> None:
    instance_id = started(db, gider_turu="temsil", temsil_alt_turu="cicek", tahmini_tutar="2500", ziyafet_var=False)
    with clock.frozen_at(at(5, 5)):
        complete(db, "ok.mudur", "Task_takdir", takdir("2000", onay_veren_adi="Ayşe Çelik, Başkan a."))
    data = show(db, instance_id)["data"]
    assert data["onaylar"][0]["makam"] == "Özel Kalem Müdürü (Başkan a., yetki devri)"
    assert data["onaylar"][0]["tarih"] == "2026-05-05" and data["onaylar"][0]["tutar"] == "2000.00"
    only_task(db, "ok.mudur", "Task_talimat")


def test_the_mayor_rejects_and_the_case_closes_as_reddedildi_baskan(db) -> None:
    instance_id = started(db)
    errors = refused(db, "baskan", "Task_takdir", {"karar": "ret", "onay_veren_adi": "Ahmet Yılmaz"})
    assert set(errors) == {"ret_gerekcesi"}
    with clock.frozen_at(at(5, 5)):
        complete(
            db,
            "baskan",
            "Task_takdir",
            {"karar": "ret", "ret_gerekcesi": "Ödenek yetersiz.", "onay_veren_adi": "A. Y."},
        )
    detail = show(db, instance_id)
    assert detail["status"] == "completed" and detail["open_tasks"] == []
    assert detail["data"]["sonuc"] == "reddedildi_baskan" and detail["data"]["arsiv"]["sonuc"] == "reddedildi_baskan"
    assert detail["data"].get("onaylanan_tutar") is None


def test_the_mayor_may_approve_less_but_not_more_than_asked(db) -> None:
    started(db)
    errors = refused(db, "baskan", "Task_takdir", takdir("60000.01"))
    assert errors == {"onaylanan_tutar": ["Onaylanan tutar, takdire sunulan tutarı aşamaz."]}


# --- talep validation --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"amac": None}, "amac"),
        ({"amac": "kısa"}, "amac"),
        ({"gider_turu": "temsil", "toren_alt_turu": "anma"}, "temsil_alt_turu"),
        ({"agirlama_misafir_sinifi": "komsu"}, "agirlama_misafir_sinifi"),
        ({"tahmini_tutar": "0"}, "tahmini_tutar"),
        ({"tahmini_tutar": "12,345"}, "tahmini_tutar"),
        ({"misafir_sayisi": None}, "misafir_sayisi"),
        ({"misafir_listesi": None}, "misafir_listesi"),
        ({"mihmandar_kapsami": None}, "mihmandar_kapsami"),
        ({"gider_turu": "diger_toren"}, "diger_toren_gerekcesi"),
        ({"butce_tertibi": "temsil"}, "butce_tertibi"),
    ],
)
def test_an_invalid_talep_is_refused_naming_the_field(db, overrides: dict, field: str) -> None:
    deploy_flow(db, "temsil_gideri")
    start(db, KEY, username="protokol1", business_key="TMS-9")
    errors = refused(db, "protokol1", "Task_talep", talep(**overrides))
    assert field in errors, errors


def test_a_talep_of_another_unit_goes_to_that_unit(db) -> None:
    deploy_flow(db, "temsil_gideri")
    start(db, KEY, username="kultursosyal.memur", business_key="TMS-K", data={"talep_birimi": "kultur_sosyal"})
    assert only_task(db, "kultursosyal.memur", "Task_talep")["candidate_groups"] == ["kultur_sosyal"]
    assert open_tasks(db, "protokol1") == []


# --- amounts -----------------------------------------------------------------------------------------


def test_a_talimat_above_the_approved_amount_or_the_appropriation_is_refused(db) -> None:
    started(db)
    with clock.frozen_at(at(5, 5)):
        complete(db, "baskan", "Task_takdir", takdir("55000"))
    errors = refused(db, "ok.mudur", "Task_talimat", talimat("55000.01"))
    assert errors == {"talimat_tutari": ["Harcama talimatı tutarı, Başkanın takdir ettiği (onaylanan) tutarı aşamaz."]}
    errors = refused(db, "ok.mudur", "Task_talimat", talimat("30000", kullanilabilir_odenek="29999.99"))
    assert errors == {"talimat_tutari": ["Harcama talimatı tutarı, tertipteki kullanılabilir ödeneği aşamaz."]}
    errors = refused(db, "ok.mudur", "Task_talimat", talimat(gerceklestirme_usulu=None))
    assert set(errors) == {"gerceklestirme_usulu"}


def test_order_needs_a_valid_supplier_and_stays_within_the_talimat(db) -> None:
    started(db)
    with clock.frozen_at(at(5, 5)):
        complete(db, "baskan", "Task_takdir", takdir())
        complete(db, "ok.mudur", "Task_talimat", talimat("50000"))
    assert set(refused(db, "satinalma1", "Task_siparis", {**SIPARIS, "tedarikci_vkn": "123456789"})) == {
        "tedarikci_vkn"
    }
    bad_tckn = {**SIPARIS, "tedarikci_kimlik_turu": "tckn", "tedarikci_tckn": "10000000147"}
    assert set(refused(db, "satinalma1", "Task_siparis", bad_tckn)) == {"tedarikci_tckn"}
    assert set(refused(db, "satinalma1", "Task_siparis", {**SIPARIS, "teklif_sayisi": 0})) == {"teklif_sayisi"}
    assert set(refused(db, "satinalma1", "Task_siparis", {**SIPARIS, "teklif_sayisi": 2})) == {"az_teklif_gerekcesi"}
    assert refused(db, "satinalma1", "Task_siparis", SIPARIS) == {
        "siparis_tutari": ["Sipariş tutarı harcama talimatı tutarını aşamaz."]
    }
    real_person = {
        **SIPARIS,
        "tedarikci_kimlik_turu": "tckn",
        "tedarikci_tckn": "10000000146",
        "siparis_tutari": "50000",
    }
    complete(db, "satinalma1", "Task_siparis", real_person)
    only_task(db, "muayene1", "Task_muayene")


def test_an_invoice_dated_before_delivery_is_refused(db) -> None:
    ordered(db)
    errors = refused(db, "idari1", "Task_fatura", fatura(fatura_tarihi="2026-05-07"))
    assert errors == {"fatura_tarihi": ["Fatura tarihi teslim tarihinden önce olamaz."]}


def test_an_invoice_above_the_talimat_goes_back_to_takdir_then_straight_to_the_oeb(db) -> None:
    instance_id = ordered(db)
    with clock.frozen_at(at(5, 19)):
        complete(db, "idari1", "Task_fatura", fatura("56500", fatura_tarihi="2026-05-19"))
    data = show(db, instance_id)["data"]
    assert (data["ek_onay_sayisi"], data["takdir_tutari"], data["fatura_gecikmeli"]) == (1, "56500.00", True)
    again = only_task(db, "baskan", "Task_takdir")
    assert again["candidate_groups"] == ["baskan"]
    assert refused(db, "baskan", "Task_takdir", takdir("56000")) == {
        "onaylanan_tutar": [
            "Ek takdirde faturanın tamamı onaylanır; aşan tutar uygun görülmüyorsa 'Uygun görülmedi' seçin "
            "(fatura düzeltilir)."
        ]
    }
    with clock.frozen_at(at(5, 20)):
        complete(db, "baskan", "Task_takdir", takdir("56500"))
        assert refused(db, "ok.mudur", "Task_talimat", talimat("56000")) == {
            "talimat_tutari": [
                "Sipariş verilmiş ve fatura gelmişken verilen ek talimat fatura tutarını karşılamalıdır."
            ]
        }
        # The order is placed: the expense can no longer be cancelled.
        assert refused(
            db,
            "ok.mudur",
            "Task_talimat",
            {"talimat_karari": "iptal", "iptal_gerekcesi": "x", "harcama_yetkilisi_adi": "A. Ç."},
        ) == {"talimat_karari": ["Sipariş verildikten (taahhüde girildikten) sonra gider iptal edilemez."]}
        complete(db, "ok.mudur", "Task_talimat", talimat("56500"))
    detail = show(db, instance_id)
    assert [t["bpmn_id"] for t in detail["open_tasks"]] == ["Task_oeb"]
    assert [o["asama"] for o in detail["data"]["onaylar"]] == [
        "Takdir (olur)",
        "Harcama talimatı",
        "Ek takdir (olur)",
        "Harcama talimatı",
    ]


def test_when_the_excess_is_refused_the_invoice_must_be_corrected(db) -> None:
    instance_id = ordered(db)
    with clock.frozen_at(at(5, 11)):
        complete(db, "idari1", "Task_fatura", fatura("56500"))
    with clock.frozen_at(at(5, 12)):
        complete(
            db,
            "baskan",
            "Task_takdir",
            {"karar": "ret", "ret_gerekcesi": "Fazlası ödenmez.", "onay_veren_adi": "A. Y."},
        )
    detail = show(db, instance_id)
    assert detail["status"] == "running" and "sonuc" not in detail["data"]
    assert detail["data"]["onaylar"][-1]["karar"] == "ret"
    with clock.frozen_at(at(5, 13)):
        complete(db, "idari1", "Task_fatura", fatura("55000", fatura_no="EGE2026000000124"))
    only_task(db, "idari1", "Task_oeb")


# --- Mali Hizmetler ----------------------------------------------------------------------------------


def test_mali_hizmetler_returns_the_file_which_is_fixed_resent_and_paid(db) -> None:
    instance_id = sent(db)
    first = show(db, instance_id)["data"]["odeme_dosyasi"]
    assert set(
        refused(db, "mali.muhasebe", "Task_mali_kontrol", {"kontrol_sonucu": "iade", "muhasebe_yetkilisi_adi": "M. Y."})
    ) == {"eksiklikler"}
    iade = {
        "kontrol_sonucu": "iade",
        "eksiklikler": "Harcama yetkilisi imzası eksik.\nPiyasa araştırma tutanağı eklenmemiş.",
        "muhasebe_yetkilisi_adi": "Muhasebe Yetkilisi",
    }
    with clock.frozen_at(at(5, 15)):
        complete(db, "mali.muhasebe", "Task_mali_kontrol", iade)
    data = show(db, instance_id)["data"]
    assert data["durum"] == "iade_duzeltme_bekliyor" and data["mali_iade_sayisi"] == 1
    assert data["iade_gecmisi"][0]["eksiklikler"] == [
        "Harcama yetkilisi imzası eksik.",
        "Piyasa araştırma tutanağı eklenmemiş.",
    ]
    fix = only_task(db, "idari1", "Task_oeb")
    # Three business days from Friday 15 May, skipping Tuesday 19 May (a holiday).
    assert fix["due_at"] == "2026-05-21T14:30:00+00:00"
    without_note = {**OEB, "piyasa_arastirmasi_ekli": True, "piyasa_arastirmasi_dosya": first}
    for field in OEB_FILES:
        without_note[field] = first
    assert refused(db, "idari1", "Task_oeb", without_note) == {
        "duzeltme_aciklamasi": ["Mali Hizmetlerin iade ettiği dosyada yapılan düzeltmeleri yazın."]
    }
    with clock.frozen_at(at(5, 18)):
        fixed = {**OEB, "piyasa_arastirmasi_ekli": True, "duzeltme_aciklamasi": "İmza ve tutanak eklendi."}
        complete(db, "idari1", "Task_oeb", fixed, files=(*OEB_FILES, "piyasa_arastirmasi_dosya"))
        complete(
            db,
            "ok.mudur",
            "Task_oeb_imza",
            {"imza_karari": "duzeltme", "imza_duzeltme_notu": "ÖEB sayısı yanlış.", "oeb_imzalayan_adi": "A. Ç."},
        )
        complete(
            db, "idari1", "Task_oeb", {**fixed, "oeb_no": "2026/146"}, files=(*OEB_FILES, "piyasa_arastirmasi_dosya")
        )
        complete(db, "ok.mudur", "Task_oeb_imza", IMZA)
    data = show(db, instance_id)["data"]
    second = data["odeme_dosyasi"]
    assert second["attachment_id"] != first["attachment_id"] and second["sha256"] != first["sha256"]
    assert [v["attachment_id"] for v in data["odeme_dosyasi_surumleri"]] == [
        first["attachment_id"],
        second["attachment_id"],
    ]
    with clock.frozen_at(at(5, 19)):
        complete(db, "idari2", "Task_sevk", SEVK)
    with clock.frozen_at(at(5, 20)):
        complete(db, "malihizmetler.memur", "Task_mali_kontrol", ODENDI)
    detail = show(db, instance_id)
    assert detail["status"] == "completed" and detail["data"]["sonuc"] == "odendi"


def test_payment_date_cannot_precede_the_oeb(db) -> None:
    sent(db)
    errors = refused(db, "mali.muhasebe", "Task_mali_kontrol", {**ODENDI, "odeme_tarihi": "2026-05-11"})
    assert errors == {"odeme_tarihi": ["Ödeme tarihi ödeme emri belgesinin tarihinden önce olamaz."]}


def test_each_oeb_document_needs_a_file_or_a_reason(db) -> None:
    invoiced(db)
    errors = refused(db, "idari1", "Task_oeb", OEB)
    assert set(errors) == set(OEB_FILES)
    errors = refused(db, "idari1", "Task_oeb", {**OEB, "fatura_ekli": False})
    assert "fatura_yok_gerekcesi" in errors


# --- iptal -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("where", ["Task_talimat", "Task_siparis"])
def test_an_event_cancelled_before_the_order_closes_as_iptal(db, where: str) -> None:
    instance_id = started(db)
    with clock.frozen_at(at(5, 5)):
        complete(db, "baskan", "Task_takdir", takdir())
        if where == "Task_talimat":
            complete(
                db,
                "ok.mudur",
                where,
                {"talimat_karari": "iptal", "iptal_gerekcesi": "Etkinlik ertelendi.", "harcama_yetkilisi_adi": "A. Ç."},
            )
        else:
            complete(db, "ok.mudur", "Task_talimat", talimat())
            complete(db, "satinalma1", where, {"siparis_durumu": "iptal", "iptal_gerekcesi": "Etkinlik iptal."})
    detail = show(db, instance_id)
    assert detail["status"] == "completed" and detail["open_tasks"] == []
    assert detail["data"]["sonuc"] == "iptal" and detail["data"]["arsiv"]["sonuc"] == "iptal"
    assert detail["data"]["siparis_verildi"] is False


def test_no_payment_file_is_built_for_a_cancelled_case(db) -> None:
    instance_id = started(db)
    with clock.frozen_at(at(5, 5)):
        complete(db, "baskan", "Task_takdir", takdir())
        complete(
            db,
            "ok.mudur",
            "Task_talimat",
            {"talimat_karari": "iptal", "iptal_gerekcesi": "x", "harcama_yetkilisi_adi": "A"},
        )
    assert read(db, lambda s: s.scalars(select(Attachment).where(Attachment.instance_id == instance_id)).all()) == []
