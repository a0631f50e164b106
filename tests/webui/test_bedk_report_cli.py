"""``kalem report bedk``: the annual 4982 report as text, CSV and XLSX, on the cases of
``flows/bedk_cases.py`` (the same database the command opens)."""

from __future__ import annotations

import csv
import io

import pytest
from click.testing import CliRunner
from flows.bedk_cases import APPLICANT, EXPECTED_2026, REPORT_AT, build
from openpyxl import load_workbook

from engine import clock
from webui.cli import main


@pytest.fixture
def kalem(db, tmp_path, monkeypatch):
    """``kalem(*args, code=0)`` → stdout (stderr when ``code`` is not 0), on the test's database."""
    monkeypatch.setenv("KALEM_INSTANCE_DIR", str(tmp_path))
    monkeypatch.setenv("KALEM_DATABASE_URL", db.process_url)
    monkeypatch.setenv("KALEM_AUDIT_KEY", "test-audit-key")
    runner = CliRunner()

    def run(*args: str, code: int = 0) -> str:
        with clock.frozen_at(REPORT_AT):
            result = runner.invoke(main, list(args), catch_exceptions=False)
        assert result.exit_code == code, (result.output, result.stderr)
        return result.stdout if code == 0 else result.stderr

    return run


def table(text: str) -> dict[tuple[str, str], int]:
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    assert rows[0] == ["Bölüm", "Kod", "Açıklama", "Sayı"]
    return {(section, code): int(n) for section, code, _label, n in rows[1:]}


def expected_csv_counts() -> dict[tuple[str, str], int]:
    outcomes = {k: v for k, v in EXPECTED_2026["outcomes"].items() if k != "other"}
    return {
        ("applications", "total"): EXPECTED_2026["applications"],
        **{("applications", k): v for k, v in outcomes.items()},
        **{("refusal_articles", k): v for k, v in EXPECTED_2026["refused_articles"].items()},
        **{("partial_articles", k): v for k, v in EXPECTED_2026["partial_articles"].items()},
        **{("objections", k): v for k, v in EXPECTED_2026["objections"].items()},
        ("excluded", "terminated"): EXPECTED_2026["terminated"],
    }


def test_csv_text_and_xlsx_carry_the_counts_of_the_year(db, kalem, tmp_path):
    build(db)
    found = table(kalem("report", "bedk", "--year", "2026", "--format", "csv", "--as", "ok.mudur"))
    nonzero = {k: v for k, v in found.items() if v or k[0] in ("applications", "objections", "excluded")}
    assert nonzero == expected_csv_counts()

    text = kalem("report", "bedk", "--year", "2026", "--as", "denetci1")
    assert "BEDK yıllık bilgi edinme raporu: 2026" in text
    assert "hazırlandığı an: 10.02.2027 10:00" in text
    assert [line.split()[-1] for line in text.splitlines() if line.strip().startswith("Toplam başvuru")] == ["16"]
    pending = [line for line in text.splitlines() if "Yıl sonunda sonuçlanmamış" in line]
    assert [line.split()[-1] for line in pending] == ["5"]
    assert "m.27 – Tavsiye ve mütalaa talepleri" in text and "ara rapor" not in text
    assert APPLICANT not in text

    target = tmp_path / "bedk.xlsx"
    said = kalem("report", "bedk", "--year", "2026", "--format", "xlsx", "--output", str(target), "--as", "ok.mudur")
    assert said.strip() == f"Rapor yazıldı: {target} (2026, 16 başvuru)."
    rows = list(load_workbook(target).active.iter_rows(values_only=True))
    assert {(s, c): n for s, c, _label, n in rows[1:]} == found

    written = tmp_path / "bedk.csv"
    kalem("report", "bedk", "--year", "2026", "--format", "csv", "--output", str(written))
    assert table(written.read_text(encoding="utf-8")) == found


def test_exit_codes(db, kalem):
    assert "BEDK raporunu" in kalem("report", "bedk", "--year", "2026", "--as", "hi1", code=4)
    assert "2004" in kalem("report", "bedk", "--year", "2031", "--as", "ok.mudur", code=6)
    assert "--output" in kalem("report", "bedk", "--format", "xlsx", "--as", "ok.mudur", code=2)
    assert "bulunamadı" in kalem("report", "bedk", "--as", "hayalet", code=3)


def test_the_default_year_is_last_year(db, kalem):
    assert "BEDK yıllık bilgi edinme raporu: 2026" in kalem("report", "bedk", "--as", "ok.mudur")
