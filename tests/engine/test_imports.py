"""CİMER/HİM imports: CSV and XLSX, preview, duplicates in the file and in the database, a report."""

from __future__ import annotations

import io

import pytest
from factories import act, deploy, read
from sqlalchemy import func, select

from engine import imports
from engine.errors import InvalidInput, NotAllowed
from engine.models import ProcessInstance

CSV = (
    "Başvuru No;Başvuru Metni;Ad Soyad;Kimlik Gizli\n"
    "1001;Yol çukur;Ayşe Yılmaz;Hayır\n"
    "1002;Çöp toplanmıyor;;Evet\n"
    "1001;Aynı başvuru;Ayşe Yılmaz;\n"
    "1003;;Ali Veli;\n"
).encode()


@pytest.fixture
def preset(monkeypatch):
    monkeypatch.setitem(
        imports.PRESETS,
        "deneme",
        imports.Preset(
            "test_havale",
            "basvuru_no",
            "CIMER-",
            {
                "basvuru_no": "cimer_no",
                "basvuru_metni": "konu",
                "ad_soyad": "basvuran_ad_soyad",
                "kimlik_gizli": "kimlik_gizli",
            },
            ("basvuru_no", "basvuru_metni"),
        ),
    )
    return "deneme"


def _run(db, preset, name, content, preview):
    return act(db, "hi1", lambda s, a: imports.run(s, a, preset, imports.read_rows(name, content), preview=preview))


def _cases(db) -> int:
    return read(db, lambda s: s.scalar(select(func.count()).select_from(ProcessInstance)))


def test_preview_reports_and_changes_nothing(db, preset) -> None:
    deploy(db)
    report = _run(db, preset, "cimer.csv", CSV, preview=True)
    assert [(r.line, r.reference, r.status) for r in report.rows] == [
        (2, "1001", "ready"),
        (3, "1002", "ready"),
        (4, "1001", "duplicate"),
        (5, "1003", "rejected"),
    ]
    assert "basvuru_metni" in report.rows[3].message
    assert _cases(db) == 0


def test_import_starts_one_case_per_good_row_and_never_twice(db, preset) -> None:
    deploy(db)
    report = _run(db, preset, "cimer.csv", CSV, preview=False)
    assert report.as_dict()["summary"] == {"imported": 2, "ready": 0, "duplicate": 1, "rejected": 1}
    keys = read(db, lambda s: sorted(s.scalars(select(ProcessInstance.business_key))))
    assert keys == ["CIMER-1001", "CIMER-1002"]
    again = _run(db, preset, "cimer.csv", CSV, preview=False)
    assert again.count("imported") == 0 and again.count("duplicate") == 3
    assert _cases(db) == 2


def test_xlsx_exports_are_read_too(db, preset) -> None:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.append(["Başvuru No", "Başvuru Metni", "Ad Soyad"])
    sheet.append([2001, "Park aydınlatması", "Mehmet Öz"])
    buffer = io.BytesIO()
    book.save(buffer)
    deploy(db)
    report = _run(db, preset, "him.xlsx", buffer.getvalue(), preview=False)
    assert [(r.reference, r.status) for r in report.rows] == [("2001", "imported")]


def test_headers_are_normalized_the_turkish_way() -> None:
    assert imports.normalize(" T.C. Kimlik No ") == "tc_kimlik_no"
    assert imports.normalize("E-Posta") == "e_posta"
    assert imports.normalize("İLÇE / Mahalle") == "ilce_mahalle"


def test_only_registrars_import(db, preset) -> None:
    with pytest.raises(NotAllowed):
        act(db, "fenisleri.memur", lambda s, a: imports.run(s, a, preset, [], preview=True))


def test_unknown_kinds_are_refused(db) -> None:
    with pytest.raises(InvalidInput):
        list(imports.read_rows("liste.pdf", b"%PDF"))
    with pytest.raises(InvalidInput, match="cimer ya da him"):
        act(db, "hi1", lambda s, a: imports.run(s, a, "yok", [], preview=True))
