"""KVKK masking: who sees an applicant's identity in the data the engine hands out."""

from __future__ import annotations

import pytest
from factories import act, deploy, start

from engine import instances, privacy
from engine.actors import Actor

APPLICANT = {
    "basvuran_ad_soyad": "Ayşe Yılmaz",
    "basvuran_tckn": "10000000146",
    "basvuran_telefon": "+905321234512",
    "basvuran_eposta": "ayse@example.com",
    "basvuran_adres": "Atatürk Cad. No 5, Çınarlı Mah., Konak",
    "konu": "Yol bozuk",
}


def test_masks_follow_the_domain_formats() -> None:
    masked = privacy.visible(APPLICANT, Actor("denetci1", groups=frozenset({"denetci"})), works_on_case=False)
    assert masked == {
        "basvuran_ad_soyad": "A*** Y***",
        "basvuran_tckn": "100******46",
        "basvuran_telefon": "+90 5** *** ** 12",
        "basvuran_eposta": "a***@e***.com",
        "basvuran_adres": "*** Konak",
        "konu": "Yol bozuk",
    }


@pytest.mark.parametrize(
    ("groups", "works_on_case", "hidden", "sees"),
    [
        ({"idari_isler"}, False, False, True),
        ({"fen_isleri"}, True, False, True),
        ({"fen_isleri"}, False, False, False),
        ({"denetci"}, True, False, False),
        ({"mali_hizmetler"}, True, False, False),
        ({"idari_isler"}, True, True, False),
        ({"fen_isleri"}, True, True, False),
        ({"halkla_iliskiler"}, False, True, True),
    ],
)
def test_who_sees_the_identity(groups: set[str], works_on_case: bool, hidden: bool, sees: bool) -> None:
    data = {**APPLICANT, "kimlik_gizli": hidden}
    shown = privacy.visible(data, Actor("x", groups=frozenset(groups)), works_on_case=works_on_case)
    assert (shown["basvuran_ad_soyad"] == "Ayşe Yılmaz") is sees
    if hidden and not sees:
        assert shown["basvuran_tckn"] == privacy.HIDDEN_IDENTITY_LABEL
    assert shown["konu"] == "Yol bozuk"


def test_instance_show_masks_for_an_auditor_not_for_the_clerk(db) -> None:
    deploy(db)
    instance_id = start(db, data=APPLICANT)
    as_clerk = act(db, "idari1", lambda s, a: instances.show(s, a, instance_id).data)
    as_auditor = act(db, "denetci1", lambda s, a: instances.show(s, a, instance_id).data)
    assert as_clerk["basvuran_ad_soyad"] == "Ayşe Yılmaz"
    assert as_auditor["basvuran_ad_soyad"] == "A*** Y***"
