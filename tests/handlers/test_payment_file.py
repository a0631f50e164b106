"""The ``odeme_dosyasi`` handler: the payment file cover sheet of F6 as a PDF, built by a pure
function and stored through the handler context (a fake one here: no database)."""

from __future__ import annotations

import re
import shutil
import subprocess
import zlib
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

import handlers
from engine.handlers import HANDLER_ATTR
from handlers.payment_file import (
    build_cover_pdf,
    cover_html,
    document_status,
    format_date,
    format_try,
    odeme_dosyasi,
    safe_filename,
)

GENERATED = datetime(2026, 5, 12, 9, 30, tzinfo=UTC)
CASE: dict[str, Any] = {
    "kayit_no": "TMS-2026-000042",
    "talep_eden_adi": "İpek Kılıç",
    "talep_tarihi": "2026-05-04",
    "gider_turu": "agirlama",
    "alt_tur": "basin",
    "agirlama_kalemleri": ["ziyafet", "hediye"],
    "etkinlik_adi": "Çalışan Gazeteciler Günü yemeği",
    "etkinlik_zamani": datetime(2026, 5, 8, 16, 0, tzinfo=UTC),
    "etkinlik_yeri": "Belediye sosyal tesisi",
    "amac": "<script>alert('x')</script> Basın buluşması & kent tanıtımı; Işık, İğdır, şöyle, çağrı.",
    "misafir_sayisi": 40,
    "mihmandar_var": True,
    "mihmandar_kapsami": "Ulaşım ve yemek",
    "butce_tertibi": "46.35.01.02-01.1.1.00-5-03.6.1.01",
    "tahmini_tutar": Decimal("60000"),
    "onaylanan_tutar": Decimal("55000.00"),
    "talimat_tutari": Decimal("55000.00"),
    "kullanilabilir_odenek": Decimal("250000"),
    "siparis_tutari": Decimal("54000"),
    "fatura_tutari": Decimal("1234.5"),
    "kdv_tutari": Decimal("205.75"),
    "onaylar": [
        {
            "asama": "Takdir (olur)",
            "makam": "Belediye Başkanı",
            "ad": "Ahmet Yılmaz",
            "tarih": "2026-05-05",
            "karar": "olur",
            "tutar": "55000.00",
        },
        {
            "asama": "Harcama talimatı",
            "makam": "Özel Kalem Müdürü",
            "ad": "Ayşe Çelik",
            "tarih": "2026-05-05",
            "karar": "talimat",
            "tutar": "55000.00",
        },
    ],
    "tedarikci_adi": "Ege Lezzet Ltd. Şti.",
    "tedarikci_vkn": "1234567890",
    "belge_turu": "e_fatura",
    "fatura_no": "EGE2026000000123",
    "fatura_tarihi": date(2026, 5, 11),
    "teslim_tarihi": date(2026, 5, 8),
    "oeb_no": "2026/145",
    "oeb_tarihi": date(2026, 5, 12),
    "oeb_aciklama": "Basın yemeği gideri.",
    "baskan_oluru_ekli": True,
    "baskan_oluru_dosya": {"attachment_id": 7, "filename": "olur<1>.pdf"},
    "piyasa_arastirmasi_ekli": False,
    "piyasa_arastirmasi_yok_gerekcesi": "Tutanak Destek Hizmetlerinde",
    "iade_gecmisi": [{"tarih": "2026-05-15", "ad": "Muhasebe Yetkilisi", "eksiklikler": ["İmza eksik", "KDV hatalı"]}],
    "gerceklestirme_gorevlisi_adi": "Ali Koç",
    "oeb_imzalayan_adi": "Ayşe Çelik",
}


def pdf_text(pdf: bytes, html_text: str) -> str:
    """The text of the PDF by ``pdftotext`` when installed, else the text WeasyPrint laid out."""
    if shutil.which("pdftotext"):
        done = subprocess.run(["pdftotext", "-enc", "UTF-8", "-", "-"], input=pdf, capture_output=True, check=True)
        return done.stdout.decode("utf-8")
    from weasyprint import HTML

    pages = HTML(string=html_text).render().pages
    return " ".join(box.text for page in pages for box in page._page_box.descendants() if hasattr(box, "text"))


def unicode_of_embedded_glyphs(pdf: bytes) -> set[str]:
    """Characters the PDF's ToUnicode maps give for its embedded glyphs (what copy/search sees)."""
    found: set[str] = set()
    for match in re.finditer(rb"stream\r?\n(.*?)\r?\nendstream", pdf, re.S):
        try:
            stream = zlib.decompress(match.group(1))
        except zlib.error:
            continue
        for block in re.findall(rb"beginbfchar(.*?)endbfchar", stream, re.S):
            for target in re.findall(rb"<[0-9a-fA-F]+>\s*<([0-9a-fA-F]+)>", block):
                found.add(bytes.fromhex(target.decode()).decode("utf-16-be"))
    return found


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (Decimal("1234.5"), "1.234,50 TL"),
        ("1234.50", "1.234,50 TL"),
        (Decimal("1000000"), "1.000.000,00 TL"),
        (Decimal("999.999"), "1.000,00 TL"),
        (Decimal("0.005"), "0,01 TL"),
        (12, "12,00 TL"),
        (Decimal("-5.5"), "-5,50 TL"),
        (None, "—"),
        ("", "—"),
        ("tutar", "—"),
        (True, "—"),
    ],
)
def test_money_is_written_the_turkish_way(value: Any, text: str) -> None:
    assert format_try(value) == text


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (date(2026, 5, 4), "04.05.2026"),
        ("2026-05-04", "04.05.2026"),
        (datetime(2026, 5, 8, 16, 0, tzinfo=UTC), "08.05.2026 19:00"),
        ("2026-05-08T16:00:00+00:00", "08.05.2026 19:00"),
        (None, "—"),
        ("yarın", "yarın"),
    ],
)
def test_dates_are_shown_day_first_in_istanbul_time(value: Any, text: str) -> None:
    assert format_date(value) == text


def test_every_case_value_is_escaped_in_the_html() -> None:
    page = cover_html(CASE, business_key="BK<&>", generated_at=GENERATED)
    assert "<script>" not in page and "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page
    assert "BK&lt;&amp;&gt;" in page and "olur&lt;1&gt;.pdf" in page
    assert "Basın buluşması &amp; kent tanıtımı" in page


def test_the_cover_sheet_is_a_pdf_with_turkish_text_amounts_approvals_and_checklist() -> None:
    pdf = build_cover_pdf(CASE, business_key="TMS-1", generated_at=GENERATED)
    assert pdf.startswith(b"%PDF")
    text = pdf_text(pdf, cover_html(CASE, business_key="TMS-1", generated_at=GENERATED))
    flat = " ".join(text.split())
    for expected in (
        "Ödeme Dosyası Kapak Sayfası",
        "Ödeme Emri Belgesi",
        "TMS-2026-000042",
        "Misafir: basın mensupları",
        "Ziyafet / yemek, Hediye",
        "Işık, İğdır, şöyle, çağrı",
        "1.234,50 TL",
        "55.000,00 TL",
        "250.000,00 TL",
        "Ahmet Yılmaz",
        "05.05.2026",
        "08.05.2026 19:00",
        "Ekli (olur<1>.pdf)",
        "Yok: Tutanak Destek Hizmetlerinde",
        "Belirtilmedi",
        "KDV hatalı",
        "Ege Lezzet Ltd. Şti.",
    ):
        assert expected in flat, expected
    assert {"Ö", "İ", "ı", "ğ", "ş", "ç", "Ş"} <= unicode_of_embedded_glyphs(pdf)


def test_missing_documents_and_a_late_invoice_are_flagged() -> None:
    page = cover_html({**CASE, "fatura_gecikmeli": True}, business_key=None, generated_at=GENERATED)
    assert "teslimden 7 günden sonra" in page
    assert "Durumu belirtilmemiş ekler: Harcama talimatı / onay belgesi" in page
    assert "ek takdir" not in page.lower()
    assert "yeniden takdire" in cover_html({**CASE, "ek_onay_sayisi": 1}, business_key=None, generated_at=GENERATED)


def test_document_status_reads_the_checklist_answers() -> None:
    assert document_status(CASE, "baskan_oluru") == (True, "Ekli (olur&lt;1&gt;.pdf)")
    assert document_status(CASE, "piyasa_arastirmasi") == (False, "Yok: Tutanak Destek Hizmetlerinde")
    assert document_status(CASE, "fatura") == (None, "Belirtilmedi")


def test_file_names_are_safe() -> None:
    assert safe_filename("odeme_dosyasi_TMS-2026-000042.pdf") == "odeme_dosyasi_TMS-2026-000042.pdf"
    assert safe_filename("../Ödeme dosyası/İşçi") == "Odeme_dosyasi_Isci.pdf"
    assert safe_filename("...") == "odeme_dosyasi.pdf"


class FakeContext:
    """What the engine hands a handler, with ``attach`` recording the stored files."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.instance_id = 42
        self.business_key = "TMS-1"
        self.data = data
        self.stored: list[tuple[str, bytes, str]] = []

    def now(self) -> datetime:
        return GENERATED

    def next_sequence(self, name: str, year: int) -> int:  # pragma: no cover - not used here
        raise AssertionError("unexpected")

    def enqueue_notification(self, channel: str, recipient: str, subject: str, body: str) -> None:  # pragma: no cover
        raise AssertionError("unexpected")

    def attach(self, file_name: str, content: bytes, content_type: str) -> dict[str, Any]:
        self.stored.append((file_name, content, content_type))
        return {
            "attachment_id": len(self.stored),
            "filename": file_name,
            "sha256": "0" * 64,
            "size": len(content),
            "content_type": content_type,
        }


def test_the_handler_attaches_the_pdf_and_returns_its_reference() -> None:
    ctx = FakeContext(CASE)
    result = odeme_dosyasi(ctx, {"dosya_adi": "odeme_dosyasi_TMS-2026-000042.pdf"})
    [(name, content, content_type)] = ctx.stored
    assert (name, content_type) == ("odeme_dosyasi_TMS-2026-000042.pdf", "application/pdf")
    assert content.startswith(b"%PDF")
    assert result["odeme_dosyasi"]["attachment_id"] == 1
    assert result["odeme_dosyasi_surumleri"] == [result["odeme_dosyasi"]]


def test_a_rebuilt_payment_file_keeps_the_earlier_versions() -> None:
    earlier = {
        "attachment_id": 9,
        "filename": "eski.pdf",
        "sha256": "1" * 64,
        "size": 10,
        "content_type": "application/pdf",
    }
    ctx = FakeContext({**CASE, "odeme_dosyasi_surumleri": [earlier]})
    result = odeme_dosyasi(ctx, {})
    assert ctx.stored[0][0] == "odeme_dosyasi_TMS-2026-000042.pdf"
    assert result["odeme_dosyasi_surumleri"] == [earlier, result["odeme_dosyasi"]]
    assert "Sürüm 2" in cover_html(ctx.data, business_key=None, generated_at=GENERATED)


def test_the_handler_is_registered_under_its_bpmn_name() -> None:
    assert "odeme_dosyasi" in {getattr(fn, HANDLER_ATTR) for fn in handlers.ALL}
