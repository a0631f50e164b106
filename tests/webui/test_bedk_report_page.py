"""``/stats/bedk``: the annual 4982 report page with its year picker and CSV/XLSX downloads, on the cases
of ``flows/bedk_cases.py``."""

from __future__ import annotations

import csv
import io
import re

import pytest
from flows.bedk_cases import APPLICANT, EXPECTED_2026, REPORT_AT, build
from openpyxl import load_workbook

from engine import clock


def get(b, path):
    with clock.frozen_at(REPORT_AT):
        return b.get(path)


def cell(html: str, attribute: str, code: str, column: int = 1) -> int:
    """The number in ``column`` of the table row marked ``attribute="code"``."""
    row = html.split(f'{attribute}="{code}"')[1].split("</tr>")[0]
    return int(re.findall(r"<td>(?:<strong>)?([^<]*)", row)[column])


def test_the_page_shows_the_counts_of_the_chosen_year(db, signed_in):
    build(db)
    response = get(signed_in("ok.mudur"), "/stats/bedk?year=2026")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert cell(html, "data-line", "total") == EXPECTED_2026["applications"]
    for code, n in EXPECTED_2026["outcomes"].items():
        if code != "other":
            assert cell(html, "data-line", code) == n, code
    assert 'data-line="other"' not in html
    for code, n in EXPECTED_2026["refused_articles"].items():
        assert cell(html, "data-article", code, 1) == n, code
    for code, n in EXPECTED_2026["partial_articles"].items():
        assert cell(html, "data-article", code, 2) == n, code
    assert cell(html, "data-article", "m16", 1) == 0
    for code, n in EXPECTED_2026["objections"].items():
        assert cell(html, "data-line", code) == n, code
    assert "1 sonlandırılan (iptal edilen) kayıt sayılmadı." in html
    assert '<option value="2026" selected>' in html and 'id="interim"' not in html
    assert APPLICANT not in html and "BE-A" not in html


def test_downloads_hold_the_same_counts(db, signed_in):
    build(db)
    b = signed_in("denetci1")
    page = get(b, "/stats/bedk?year=2026").get_data(as_text=True)
    assert "/stats/bedk.csv?year=2026" in page and "/stats/bedk.xlsx?year=2026" in page
    response = get(b, "/stats/bedk.csv?year=2026")
    assert response.mimetype == "text/csv"
    assert "bedk-bilgi-edinme-raporu-2026.csv" in response.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    found = {(s, c): int(n) for s, c, _label, n in rows[1:]}
    assert found[("applications", "total")] == 16 and found[("applications", "withdrawn")] == 1
    assert found[("objections", "objections")] == 3 and found[("refusal_articles", "m27")] == 1
    workbook = get(b, "/stats/bedk.xlsx?year=2026")
    assert workbook.mimetype.endswith("spreadsheetml.sheet")
    sheet = load_workbook(io.BytesIO(workbook.data)).active
    assert {(s, c): n for s, c, _label, n in list(sheet.iter_rows(values_only=True))[1:]} == found


def test_the_default_is_last_year_and_a_bad_year_is_explained(db, signed_in):
    b = signed_in("ok.mudur")
    assert "BEDK yıllık bilgi edinme raporu: 2026" in get(b, "/stats/bedk").get_data(as_text=True)
    response = get(b, "/stats/bedk?year=1999")
    html = response.get_data(as_text=True)
    assert response.status_code == 400 and "2004" in html and "raporu: 2026" in html
    assert get(b, "/stats/bedk?year=iki").status_code == 400
    assert get(b, "/stats/bedk.csv?year=1999").status_code == 400
    interim = get(b, "/stats/bedk?year=2027").get_data(as_text=True)
    assert 'id="interim"' in interim


def test_the_dashboard_links_to_it(db, signed_in):
    assert "/stats/bedk" in get(signed_in("ok.mudur"), "/stats").get_data(as_text=True)


@pytest.mark.parametrize("username", ["hi1", "idari1", "fenisleri.memur"])
@pytest.mark.parametrize("path", ["/stats/bedk?year=2026", "/stats/bedk.csv?year=2026", "/stats/bedk.xlsx"])
def test_others_are_refused(db, signed_in, username, path):
    assert get(signed_in(username), path).status_code == 403


def test_signed_out_visitors_are_sent_to_sign_in(db, browser):
    response = get(browser, "/stats/bedk")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
