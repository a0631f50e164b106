"""Importing CİMER/HİM items from their CSV or XLSX exports: one case per row.

``read_rows`` streams a file's rows as dicts keyed by normalized column names (``Başvuru No`` →
``basvuru_no``). ``run`` checks every row (required columns, duplicates in the file and in the
database by reference number) and, unless it is a preview, starts one case per good row, each in a
savepoint: a row that fails is reported and the others still land. The report lists every row.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
import zipfile
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import audit, instances
from engine.actors import Actor
from engine.errors import InvalidInput, KalemError, NotAllowed
from engine.i18n import _
from engine.models import InstanceStatus, ProcessInstance

MAX_ROWS = 5000
# Who registers incoming applications (domain §5.2).
REGISTRARS = frozenset({"ozel_kalem_muduru", "ozel_kalem_sef", "idari_isler", "halkla_iliskiler"})
TR_ASCII = str.maketrans("çğıöşüÇĞİÖŞÜ", "cgiosuCGIOSU")


@dataclass(frozen=True)
class Preset:
    """How an export's columns become a process's start data."""

    process_key: str
    reference_column: str
    business_key_prefix: str
    columns: Mapping[str, str]  # normalized column name → process variable
    required: tuple[str, ...]


PRESETS: dict[str, Preset] = {
    "cimer": Preset(
        "f2_cimer",
        "basvuru_no",
        "CIMER-",
        {
            "basvuru_no": "cimer_no",
            "basvuru_tarihi": "cimer_sevk_tarihi",
            "sevk_tarihi": "cimer_sevk_tarihi",
            "basvuru_turu": "basvuru_turu",
            "konu": "konu",
            "basvuru_metni": "basvuru_metni",
            "ad_soyad": "basvuran_ad_soyad",
            "tc_kimlik_no": "basvuran_tckn",
            "telefon": "basvuran_telefon",
            "e_posta": "basvuran_eposta",
            "adres": "basvuran_adres",
            "kimlik_gizli": "kimlik_gizli",
        },
        ("basvuru_no", "basvuru_metni"),
    ),
    "him": Preset(
        "f3_him",
        "basvuru_no",
        "HIM-",
        {
            "basvuru_no": "him_no",
            "basvuru_tarihi": "him_sevk_tarihi",
            "sevk_tarihi": "him_sevk_tarihi",
            "konu": "konu",
            "basvuru_metni": "basvuru_metni",
            "ad_soyad": "basvuran_ad_soyad",
            "telefon": "basvuran_telefon",
            "e_posta": "basvuran_eposta",
            "adres": "basvuran_adres",
        },
        ("basvuru_no", "basvuru_metni"),
    ),
}


@dataclass
class RowResult:
    line: int
    reference: str | None
    status: str  # "imported" | "ready" (preview) | "duplicate" | "rejected"
    message: str = ""
    instance_id: int | None = None


@dataclass
class Report:
    preset: str
    preview: bool
    rows: list[RowResult] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(1 for r in self.rows if r.status == status)

    def as_dict(self) -> dict[str, Any]:
        return {
            "preset": self.preset,
            "preview": self.preview,
            "summary": {s: self.count(s) for s in ("imported", "ready", "duplicate", "rejected")},
            "rows": [r.__dict__ for r in self.rows],
        }


def normalize(header: str) -> str:
    """``Başvuru No`` → ``basvuru_no``; ``E-Posta`` → ``e_posta``; ``T.C. Kimlik No`` → ``tc_kimlik_no``."""
    text = unicodedata.normalize("NFC", str(header)).strip().translate(TR_ASCII).lower()
    text = re.sub(r"[.]", "", text)
    return re.sub(r"[^a-z0-9]+", "_", text).strip("_")


def read_rows(file_name: str, content: bytes) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, row) pairs of a ``.csv`` or ``.xlsx`` export; empty rows are skipped."""
    lower = file_name.lower()
    if lower.endswith(".xlsx"):
        yield from _xlsx_rows(content)
    elif lower.endswith(".csv"):
        yield from _csv_rows(content)
    else:
        raise InvalidInput(_("Desteklenmeyen dosya türü: .csv ya da .xlsx olmalı."))


def _csv_rows(content: bytes) -> Iterator[tuple[int, dict[str, Any]]]:
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = content.decode("cp1254")  # Excel's Turkish "CSV" default
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=";,\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(text), dialect)
    headers = [normalize(h) for h in next(reader, [])]
    for line, values in enumerate(reader, start=2):
        row = {h: v.strip() for h, v in zip(headers, values, strict=False) if h and v and v.strip()}
        if row:
            yield line, row


def _xlsx_rows(content: bytes) -> Iterator[tuple[int, dict[str, Any]]]:
    from openpyxl import load_workbook

    try:
        _refuse_doctype(content)
        workbook = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
        rows = list(_sheet_rows(workbook.worksheets[0]))
    except InvalidInput:
        raise
    except Exception:  # a damaged workbook, or XML the hardened parser refuses (DOCTYPE, entities)
        raise InvalidInput(_("XLSX dosyası okunamadı.")) from None
    yield from rows


def _refuse_doctype(content: bytes) -> None:
    """An export never declares a DOCTYPE; one that does is an entity attack, refused unread."""
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        for member in archive.infolist():
            if member.filename.endswith((".xml", ".rels")):
                with archive.open(member) as part:
                    if b"<!DOCTYPE" in part.read(4096).upper():
                        raise ValueError("DOCTYPE in workbook")


def _sheet_rows(sheet: Any) -> Iterator[tuple[int, dict[str, Any]]]:
    values_by_row = sheet.iter_rows(values_only=True)
    headers = [normalize(h) if h is not None else "" for h in next(values_by_row, ())]
    for line, values in enumerate(values_by_row, start=2):
        if line > MAX_ROWS + 1:
            raise InvalidInput(_("Bir dosyada en fazla {n} satır içe aktarılabilir.", n=MAX_ROWS))
        row = {h: _cell(v) for h, v in zip(headers, values, strict=False) if h and v not in (None, "")}
        if row:
            yield line, row


def _cell(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == datetime.min.time() else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip() if isinstance(value, str) else value


def run(
    session: Session, actor: Actor, preset_name: str, rows: Iterable[tuple[int, dict[str, Any]]], *, preview: bool
) -> Report:
    """Check (and unless ``preview``, import) ``rows`` by the preset; returns the per-row report."""
    if not (actor.is_admin or actor.groups & REGISTRARS):
        raise NotAllowed(_("Başvuruları yalnız Özel Kalem kayıt birimleri içe aktarabilir."))
    preset = PRESETS.get(preset_name)
    if preset is None:
        raise InvalidInput(_("Bilinmeyen içe aktarma türü: {name} (cimer ya da him).", name=preset_name))
    report = Report(preset_name, preview)
    seen: set[str] = set()
    for count, (line, row) in enumerate(rows, start=1):
        if count > MAX_ROWS:
            raise InvalidInput(_("Bir dosyada en fazla {n} satır içe aktarılabilir.", n=MAX_ROWS))
        report.rows.append(_one(session, actor, preset, line, row, seen, preview))
    audit.append(
        session,
        actor,
        "import.previewed" if preview else "import.completed",
        details={"preset": preset_name, **report.as_dict()["summary"]},
    )
    return report


def _one(
    session: Session, actor: Actor, preset: Preset, line: int, row: dict[str, Any], seen: set[str], preview: bool
) -> RowResult:
    reference = str(row.get(preset.reference_column) or "").strip() or None
    missing = [c for c in preset.required if not row.get(c)]
    if missing:
        return RowResult(line, reference, "rejected", str(_("Eksik sütun: {cols}", cols=", ".join(missing))))
    business_key = preset.business_key_prefix + str(reference)
    if business_key in seen:
        return RowResult(line, reference, "duplicate", str(_("Dosyada tekrar eden numara.")))
    seen.add(business_key)
    existing = session.scalar(
        select(ProcessInstance.id).where(
            ProcessInstance.process_key == preset.process_key,
            ProcessInstance.business_key == business_key,
            ProcessInstance.status != InstanceStatus.TERMINATED,
        )
    )
    if existing is not None:
        return RowResult(line, reference, "duplicate", str(_("Zaten kayıtlı (örnek {id}).", id=existing)), existing)
    data = {preset.columns[k]: v for k, v in row.items() if k in preset.columns}
    data["kimlik_gizli"] = str(data.get("kimlik_gizli", "")).strip().lower() in ("1", "evet", "true", "e", "x")
    data["kaynak"] = "ice_aktarma"
    if preview:
        return RowResult(line, reference, "ready")
    try:
        with session.begin_nested():
            instance = instances.start(session, actor, preset.process_key, business_key=business_key, data=data)
    except KalemError as exc:
        return RowResult(line, reference, "rejected", str(exc))
    return RowResult(line, reference, "imported", instance_id=instance.id)
