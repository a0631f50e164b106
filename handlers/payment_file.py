"""``odeme_dosyasi``: the cover sheet (kapak sayfası) of a representation-expense payment file (F6),
rendered as a PDF and attached to the case. The PDF is a pure function of the case data
(:func:`build_cover_pdf`); the handler only stores it through ``ctx.attach``. Every value taken from
the case is HTML-escaped before it reaches the template."""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from engine.handlers import HandlerContext, handler

ISTANBUL = ZoneInfo("Europe/Istanbul")
MISSING = "—"
_UNSAFE_FILENAME = re.compile(r"[^A-Za-z0-9._-]+")
_TURKISH_ASCII = str.maketrans("çğıöşüÇĞİÖŞÜ", "cgiosuCGIOSU")

EXPENSE_TYPES = {
    "temsil": "Temsil gideri",
    "agirlama": "Ağırlama gideri",
    "toren": "Tören gideri",
    "diger_toren": "Diğer tören gideri (yerel örf ve adet)",
}
SUB_TYPES = {
    "plaket": "Plaket",
    "odul": "Ödül, kupa ve benzeri teşvik",
    "hediye": "Kişi ve kuruluşlara hediye",
    "cicek": "Çiçek",
    "basari_toplantisi": "Başarılı çalışma yapanlar için toplantı",
    "protokol_karsilama_ugurlama": "Göreve başlayan / ayrılan protokol üyeleri için toplantı ve hediye",
    "cumhurbaskani_tbmm_bakan": "Misafir: Cumhurbaşkanı, TBMM Başkanı, bakanlar",
    "protokol": "Misafir: başkent ve diğer illerin protokol mensupları",
    "yabanci_temsilci": "Misafir: yabancı temsilciler",
    "sanat_bilim_spor": "Misafir: tanınmış sanat, bilim ve spor insanları",
    "basin": "Misafir: basın mensupları",
    "kalkinmaya_katki": "Misafir: kentin kalkınmasına katkıda bulunanlar",
    "es_refakatci": "Misafir: eşler ve refakatçiler",
    "resmi_bayram": "Resmî bayram",
    "dini_bayram": "Dinî bayram",
    "anma": "Anma günü",
    "kurtulus_gunu": "Kurtuluş günü",
    "festival_fuar": "Festival / fuar",
    "temel_atma_acilis": "Temel atma / açılış töreni",
    "milli_mucadele_gunu": "Millî mücadele günü",
    "yerel_tore": "Yerel örf ve adete dayanan tören",
}
HOSPITALITY_ITEMS = {
    "konaklama": "Konaklama",
    "ziyafet": "Ziyafet / yemek",
    "kokteyl": "Kokteyl",
    "hediye": "Hediye",
    "cicek": "Çiçek",
    "ulasim": "Ulaşım",
    "bahsis": "Bahşiş",
    "hazirlik": "Hazırlık giderleri",
}
DOCUMENT_TYPES = {
    "fatura": "Fatura",
    "e_fatura": "e-Fatura",
    "e_arsiv": "e-Arşiv fatura",
    "serbest_meslek_makbuzu": "Serbest meslek makbuzu",
    "gider_pusulasi": "Gider pusulası",
    "bilet": "Bilet",
    "harcama_pusulasi": "Harcama pusulası",
}
METHODS = {"dogrudan_temin_22d": "Doğrudan temin (4734 s. Kanun m.22/d)", "diger": "Diğer"}
DECISIONS = {"olur": "Olur", "ret": "Uygun görülmedi", "talimat": "Talimat verildi", "imza": "İmzalandı"}
#: The ödeme emri belgesi attachments (MİHBY m.37), in the order of the form ``f6_oeb``.
REQUIRED_DOCUMENTS = (
    ("baskan_oluru", "Başkan oluru (takdir)"),
    ("harcama_talimati", "Harcama talimatı / onay belgesi"),
    ("piyasa_arastirmasi", "Piyasa araştırma tutanağı"),
    ("muayene_kabul", "Muayene ve kabul / hizmet kabul tutanağı"),
    ("fatura", "Fatura veya fatura yerine geçen belge"),
    ("davetli_mihmandar", "Davetli sayısı ve mihmandar kapsamı (ziyafet)"),
    ("tasinir_islem_fisi", "Taşınır işlem fişi (dayanıklı taşınır)"),
)

CSS = """
@page {
  size: A4;
  margin: 16mm 15mm 18mm 15mm;
  @bottom-center { content: "Sayfa " counter(page) " / " counter(pages); font-size: 8pt; color: #555; }
}
body { font-family: "DejaVu Sans", "Liberation Sans", sans-serif; font-size: 9pt; color: #111; }
h1 { font-size: 14pt; text-align: center; margin: 0 0 1mm; }
p.subtitle { text-align: center; margin: 0 0 4mm; font-size: 10pt; }
h2 { font-size: 10.5pt; margin: 5mm 0 1.5mm; padding-bottom: 1mm; border-bottom: 1px solid #333; }
table { width: 100%; border-collapse: collapse; }
th, td { border: 1px solid #999; padding: 1.2mm 1.6mm; vertical-align: top; text-align: left; }
th { background: #eee; font-weight: bold; }
table.fields th { width: 34%; }
td.amount, th.amount { text-align: right; white-space: nowrap; }
tr.total td { font-weight: bold; background: #f4f4f4; }
.ok { color: #145a14; font-weight: bold; }
.missing { color: #8a1010; font-weight: bold; }
.warning { border: 1px solid #b36b00; background: #fff4e0; padding: 2mm; margin: 2mm 0; }
table.signatures td { border: none; width: 50%; text-align: center; padding-top: 16mm; }
p.meta { font-size: 7.5pt; color: #555; margin-top: 6mm; }
"""


def format_try(value: Any) -> str:
    """Turkish money format: ``Decimal('1234.5')`` → ``'1.234,50 TL'``; empty or unreadable → ``'—'``."""
    if value is None or value == "" or isinstance(value, bool):
        return MISSING
    try:
        amount = Decimal(str(value).strip()).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    except (InvalidOperation, ValueError):
        return MISSING
    if not amount.is_finite():
        return MISSING
    sign = "-" if amount < 0 else ""
    whole, fraction = f"{abs(amount):.2f}".split(".")
    groups = []
    while len(whole) > 3:
        groups.insert(0, whole[-3:])
        whole = whole[:-3]
    groups.insert(0, whole)
    return f"{sign}{'.'.join(groups)},{fraction} TL"


def format_date(value: Any) -> str:
    """``date``/``datetime``/ISO text → ``'15.05.2026'`` (with ``' 14:30'`` for instants, in Istanbul time)."""
    if value is None or value == "":
        return MISSING
    moment: date | datetime | None = value if isinstance(value, date) else None
    if moment is None:
        text = str(value).strip()
        try:
            moment = datetime.fromisoformat(text) if "T" in text or " " in text else date.fromisoformat(text)
        except ValueError:
            return text
    if isinstance(moment, datetime):
        if moment.tzinfo is not None:
            moment = moment.astimezone(ISTANBUL)
        return moment.strftime("%d.%m.%Y %H:%M")
    return moment.strftime("%d.%m.%Y")


def esc(value: Any) -> str:
    """Escaped text of a case value; line breaks are kept; empty → ``'—'``."""
    if value is None or value == "" or value == []:
        return MISSING
    if isinstance(value, bool):
        return "Evet" if value else "Hayır"
    if isinstance(value, list | tuple):
        value = ", ".join(str(item) for item in value)
    return html.escape(str(value), quote=True).replace("\n", "<br>")


def _rows(rows: list[tuple[str, str]]) -> str:
    """Table rows of (label, already escaped value)."""
    return "".join(f"<tr><th>{html.escape(label)}</th><td>{value}</td></tr>" for label, value in rows)


def _label(mapping: Mapping[str, str], code: Any) -> str:
    return esc(mapping.get(str(code), code) if code is not None else None)


def _case_section(data: Mapping[str, Any], business_key: str | None) -> str:
    kind = data.get("gider_turu")
    rows = [
        ("Kayıt no", esc(data.get("kayit_no"))),
        ("İş anahtarı", esc(business_key)),
        ("Talep eden", esc(data.get("talep_eden_adi"))),
        ("Talep tarihi", esc(format_date(data.get("talep_tarihi")))),
        ("Gider türü", _label(EXPENSE_TYPES, kind)),
        ("Alt tür", _label(SUB_TYPES, data.get("alt_tur"))),
    ]
    if kind == "agirlama":
        items = [HOSPITALITY_ITEMS.get(str(i), str(i)) for i in data.get("agirlama_kalemleri") or []]
        rows.append(("Ağırlama kalemleri", esc(items)))
    if kind == "diger_toren":
        rows.append(("Yerel örf ve adet gerekçesi", esc(data.get("diger_toren_gerekcesi"))))
    rows += [
        ("Etkinlik", esc(data.get("etkinlik_adi"))),
        (
            "Etkinlik tarihi ve yeri",
            f"{esc(format_date(data.get('etkinlik_zamani')))}, {esc(data.get('etkinlik_yeri'))}",
        ),
        ("Giderin amacı", esc(data.get("amac"))),
        ("Misafir / davetli sayısı", esc(data.get("misafir_sayisi"))),
    ]
    if data.get("mihmandar_var"):
        rows.append(("Mihmandar harcamasının kapsamı", esc(data.get("mihmandar_kapsami"))))
    rows.append(("Bütçe tertibi", esc(data.get("butce_tertibi"))))
    return f"<h2>1. Gider</h2><table class='fields'>{_rows(rows)}</table>"


def _amounts_section(data: Mapping[str, Any]) -> str:
    lines = [
        ("Tahmini tutar (talep)", "tahmini_tutar"),
        ("Takdir edilen tutar (olur)", "onaylanan_tutar"),
        ("Harcama talimatı tutarı", "talimat_tutari"),
        ("Tertipteki kullanılabilir ödenek", "kullanilabilir_odenek"),
        ("Sipariş tutarı", "siparis_tutari"),
        ("KDV", "kdv_tutari"),
    ]
    body = "".join(
        f"<tr><td>{html.escape(label)}</td><td class='amount'>{esc(format_try(data.get(key)))}</td></tr>"
        for label, key in lines
    )
    total = esc(format_try(data.get("fatura_tutari")))
    body += f"<tr class='total'><td>Ödenecek tutar (fatura, KDV dahil)</td><td class='amount'>{total}</td></tr>"
    return f"<h2>2. Tutarlar</h2><table><tr><th>Kalem</th><th class='amount'>Tutar</th></tr>{body}</table>"


def _approvals_section(data: Mapping[str, Any]) -> str:
    approvals = [a for a in data.get("onaylar") or [] if isinstance(a, Mapping)]
    if not approvals:
        return "<h2>3. Onaylar</h2><p class='missing'>Kayıtlı onay yok.</p>"
    body = "".join(
        "<tr>"
        f"<td>{esc(a.get('asama'))}</td><td>{esc(a.get('makam'))}</td><td>{esc(a.get('ad'))}</td>"
        f"<td>{esc(format_date(a.get('tarih')))}</td><td>{_label(DECISIONS, a.get('karar'))}</td>"
        f"<td class='amount'>{esc(format_try(a.get('tutar')) if a.get('tutar') else None)}</td>"
        "</tr>"
        for a in approvals
    )
    head = (
        "<tr><th>Aşama</th><th>Makam</th><th>Ad soyad</th><th>Tarih</th><th>Karar</th>"
        "<th class='amount'>Tutar</th></tr>"
    )
    return f"<h2>3. Onaylar</h2><table>{head}{body}</table>"


def _supplier_section(data: Mapping[str, Any]) -> str:
    identity = data.get("tedarikci_vkn") or data.get("tedarikci_tckn")
    method = _label(METHODS, data.get("gerceklestirme_usulu"))
    if data.get("gerceklestirme_usulu") == "diger":
        method += f" ({esc(data.get('gerceklestirme_usulu_aciklama'))})"
    rows = [
        ("Gerçekleştirme usulü", method),
        ("Gerçekleştirme görevlileri", esc(data.get("gerceklestirme_gorevlileri"))),
        ("Tedarikçi", esc(data.get("tedarikci_adi"))),
        ("Tedarikçi VKN / TCKN", esc(identity)),
        ("Teklif sayısı", esc(data.get("teklif_sayisi"))),
        ("Sipariş tarihi", esc(format_date(data.get("siparis_tarihi")))),
        ("Teslim tarihi", esc(format_date(data.get("teslim_tarihi")))),
        (
            "Belge",
            f"{_label(DOCUMENT_TYPES, data.get('belge_turu'))} no {esc(data.get('fatura_no'))}, "
            f"{esc(format_date(data.get('fatura_tarihi')))}",
        ),
        ("Satıcı VKN / TCKN (belgede)", esc(data.get("satici_kimlik_no"))),
    ]
    return f"<h2>4. Satın alma ve fatura</h2><table class='fields'>{_rows(rows)}</table>"


def document_status(data: Mapping[str, Any], code: str) -> tuple[bool | None, str]:
    """Whether the attachment ``code`` of the ÖEB is attached (None: not answered) and its escaped status text."""
    attached = data.get(f"{code}_ekli")
    if attached is True:
        reference = data.get(f"{code}_dosya")
        name = reference.get("filename") if isinstance(reference, Mapping) else None
        return True, f"Ekli ({esc(name)})" if name else "Ekli"
    if attached is False:
        return False, f"Yok: {esc(data.get(f'{code}_yok_gerekcesi'))}"
    return None, "Belirtilmedi"


def _checklist_section(data: Mapping[str, Any]) -> str:
    body = ""
    for index, (code, label) in enumerate(REQUIRED_DOCUMENTS, start=1):
        attached, text = document_status(data, code)
        css = "ok" if attached else "missing" if attached is None else ""
        mark = "✔" if attached else "✘" if attached is None else "—"
        body += f"<tr><td>{index}</td><td>{html.escape(label)}</td><td class='{css}'>{mark} {text}</td></tr>"
    head = "<tr><th>#</th><th>Belge</th><th>Durum</th></tr>"
    rows = [
        ("ÖEB sayısı ve tarihi", f"{esc(data.get('oeb_no'))}, {esc(format_date(data.get('oeb_tarihi')))}"),
        ("Açıklama (amaç)", esc(data.get("oeb_aciklama"))),
    ]
    if data.get("duzeltme_aciklamasi"):
        rows.append(("Yapılan düzeltmeler", esc(data.get("duzeltme_aciklamasi"))))
    return (
        "<h2>5. Ödeme Emri Belgesi ve ekleri</h2>"
        f"<table class='fields'>{_rows(rows)}</table><br><table>{head}{body}</table>"
    )


def _returns_section(data: Mapping[str, Any]) -> str:
    returns = [r for r in data.get("iade_gecmisi") or [] if isinstance(r, Mapping)]
    if not returns:
        return ""
    items = ""
    for r in returns:
        defects = "".join(f"<li>{esc(d)}</li>" for d in r.get("eksiklikler") or [])
        items += f"<li>{esc(format_date(r.get('tarih')))}, {esc(r.get('ad'))}<ul>{defects}</ul></li>"
    return f"<h2>6. Mali Hizmetler iadeleri</h2><ol>{items}</ol>"


def _warnings(data: Mapping[str, Any]) -> str:
    notes = []
    if data.get("fatura_gecikmeli"):
        notes.append("Fatura, teslimden 7 günden sonra düzenlenmiştir (VUK).")
    if data.get("ek_onay_sayisi"):
        notes.append("Fatura tutarı harcama talimatını aştığı için gider yeniden takdire sunulmuştur.")
    missing = [label for code, label in REQUIRED_DOCUMENTS if document_status(data, code)[0] is None]
    if missing:
        notes.append("Durumu belirtilmemiş ekler: " + ", ".join(missing) + ".")
    return "".join(f"<div class='warning'>{html.escape(note)}</div>" for note in notes)


def cover_html(data: Mapping[str, Any], *, business_key: str | None, generated_at: datetime) -> str:
    """The cover sheet as an HTML document (every case value escaped)."""
    version = len(data.get("odeme_dosyasi_surumleri") or []) + 1
    signatures = (
        "<table class='signatures'><tr>"
        f"<td>Düzenleyen<br>Gerçekleştirme görevlisi<br><b>{esc(data.get('gerceklestirme_gorevlisi_adi'))}</b></td>"
        f"<td>Harcama yetkilisi<br><b>{esc(data.get('oeb_imzalayan_adi'))}</b></td>"
        "</tr></table>"
    )
    title = f"Ödeme dosyası {data.get('kayit_no') or ''}".strip()
    return (
        "<!DOCTYPE html><html lang='tr'><head><meta charset='utf-8'>"
        f"<title>{esc(title)}</title><style>{CSS}</style></head><body>"
        "<h1>Ödeme Dosyası Kapak Sayfası</h1>"
        "<p class='subtitle'>Ödeme Emri Belgesi ekleri — Temsil, Ağırlama ve Tören Giderleri</p>"
        f"{_warnings(data)}{_case_section(data, business_key)}{_amounts_section(data)}"
        f"{_approvals_section(data)}{_supplier_section(data)}{_checklist_section(data)}{_returns_section(data)}"
        f"{signatures}"
        f"<p class='meta'>Dayanak: 5393 s. Kanun m.38(o), 60(k); 5018 s. Kanun m.31, 33, 61; Mahalli İdareler "
        f"Harcama Belgeleri Yönetmeliği m.4, 37. Sürüm {version}; oluşturma: {esc(format_date(generated_at))}.</p>"
        "</body></html>"
    )


def build_cover_pdf(data: Mapping[str, Any], *, business_key: str | None, generated_at: datetime) -> bytes:
    """The cover sheet as PDF bytes (pure: the same data gives the same pages)."""
    from weasyprint import HTML  # heavy import, needed only when a payment file is built

    # The template refers to no outside resource and every case value is escaped, so the page
    # cannot make WeasyPrint fetch a URL or read a local file.
    pdf = HTML(string=cover_html(data, business_key=business_key, generated_at=generated_at)).write_pdf()
    if not isinstance(pdf, bytes):  # pragma: no cover - write_pdf() without a target returns bytes
        raise TypeError("PDF üretilemedi")
    return pdf


def safe_filename(name: str) -> str:
    """A plain ASCII file name ending in ``.pdf`` (Turkish letters transliterated, no path parts)."""
    cleaned = _UNSAFE_FILENAME.sub("_", name.translate(_TURKISH_ASCII)).strip("._") or "odeme_dosyasi"
    return cleaned if cleaned.lower().endswith(".pdf") else f"{cleaned}.pdf"


@handler("odeme_dosyasi")
def odeme_dosyasi(ctx: HandlerContext, params: dict[str, Any]) -> Mapping[str, Any]:
    """Params: optional ``dosya_adi`` (file name). Builds the cover sheet of the payment file from the
    case data, attaches it to the case and returns ``odeme_dosyasi`` (the file reference) and
    ``odeme_dosyasi_surumleri`` (every version built so far, oldest first)."""
    data = ctx.data
    pdf = build_cover_pdf(data, business_key=ctx.business_key, generated_at=ctx.now())
    name = safe_filename(str(params.get("dosya_adi") or f"odeme_dosyasi_{data.get('kayit_no') or ctx.instance_id}"))
    reference = ctx.attach(name, pdf, "application/pdf")
    versions = [v for v in data.get("odeme_dosyasi_surumleri") or [] if isinstance(v, Mapping)]
    return {"odeme_dosyasi": reference, "odeme_dosyasi_surumleri": [*versions, reference]}
