"""The audit trail pages: who may open them, filters, the per-case timeline, masked CSV/XLSX downloads
and the chain status."""

from __future__ import annotations

import csv
import io
import re

import pytest
from factories import act, deploy, only_task, read, start
from openpyxl import load_workbook
from sqlalchemy import select, text
from web_client import app, browser, signed_in

from engine import tasks
from engine.models import AuditEvent

# The web client's fixtures, imported so pytest finds them here by name.
FIXTURES = (app, browser, signed_in)
TCKN = "10000000146"
MASKED_TCKN = "100******46"


@pytest.fixture
def case(db):
    deploy(db)
    instance_id = start(db, business_key="DLK-7")
    task = only_task(db, "idari1", "Task_kayit")
    data = {"konu": "Kaldırım", "karar": "havale", "hedef_mudurluk": "zabita", "basvuran_tckn": TCKN}
    act(db, "idari1", lambda s, a: tasks.complete(s, a, task["id"], data))
    return instance_id


def seqs(response):
    return [int(x) for x in re.findall(r'data-seq="(\d+)"', response.get_data(as_text=True))]


@pytest.mark.parametrize("path", ["/audit", "/audit/instances/1", "/audit/export.csv", "/audit/export.xlsx"])
def test_a_clerk_may_not_open_the_audit_trail(db, case, signed_in, path):
    response = signed_in("idari1").get(path)
    assert response.status_code == 403
    assert read(db, lambda s: s.scalars(select(AuditEvent).where(AuditEvent.action == "audit.exported")).all()) == []


def test_an_auditor_sees_every_event_masked(db, case, signed_in):
    page = signed_in("denetci1").get("/audit")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    total = read(db, lambda s: len(s.scalars(select(AuditEvent.id)).all()))
    assert len(seqs(page)) == total
    assert MASKED_TCKN in html and TCKN not in html
    assert "Görev tamamlandı" in html and 'data-chain="unknown"' in html


def test_filters_narrow_the_list_and_bad_values_are_named(case, signed_in):
    auditor = signed_in("denetci1")
    completed = auditor.get("/audit?action=task.completed")
    assert len(seqs(completed)) == 1
    assert seqs(auditor.get("/audit?person=idari1&action=task.completed")) == seqs(completed)
    assert len(seqs(auditor.get("/audit?person=idari1&action=task."))) == 3  # two created, one completed
    assert seqs(auditor.get("/audit?person=zabita.memur")) == []
    assert seqs(auditor.get("/audit?business_key=YOK")) == []
    bad = auditor.get("/audit?date_from=31.02.2026&instance=abc")
    html = bad.get_data(as_text=True)
    assert bad.status_code == 400
    assert "Tarih GG.AA.YYYY ya da YYYY-AA-GG biçiminde olmalı." in html and "bir sayı olmalı" in html


def test_older_pages_follow_the_keyset_cursor(case, signed_in):
    auditor = signed_in("denetci1")
    everything = seqs(auditor.get("/audit"))
    first = auditor.get("/audit?action=task.")
    assert seqs(first) == [s for s in everything if s in seqs(first)]
    cursor = min(everything[:2])
    older = seqs(auditor.get(f"/audit?before={cursor}"))
    assert older == [s for s in everything if s < cursor]


def test_timeline_shows_a_case_in_order(case, signed_in):
    response = signed_in("denetci1").get(f"/audit/instances/{case}")
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "DLK-7" in html
    order = seqs(response)
    assert order == sorted(order) and len(order) >= 3
    assert html.index("Süreç başlatıldı") < html.index("Görev tamamlandı")
    # A manager of another unit learns nothing about the case.
    assert signed_in("fenisleri.mudur").get(f"/audit/instances/{case}").status_code == 404
    assert signed_in("zabita.mudur").get(f"/audit/instances/{case}").status_code == 200


def test_csv_download_is_masked_and_audited(db, case, signed_in):
    response = signed_in("denetci1").get(f"/audit/export.csv?instance={case}")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "-maskeli.csv" in response.headers["Content-Disposition"]
    body = response.get_data(as_text=True)
    rows = list(csv.reader(io.StringIO(body.lstrip("\ufeff"))))
    assert rows[0][:3] == ["Sıra", "Zaman (İstanbul)", "Kim"] and len(rows) > 3
    assert MASKED_TCKN in body and TCKN not in body
    exported = read(db, lambda s: s.scalars(select(AuditEvent).where(AuditEvent.action == "audit.exported")).one())
    assert exported.actor == "denetci1" and exported.details == {
        "format": "csv",
        "filter": {"instance": str(case)},
        "masked": True,
    }


def test_xlsx_download_is_masked_unless_the_viewer_is_the_kvkk_officer(case, signed_in):
    def cells(username):
        response = signed_in(username).get(f"/audit/export.xlsx?instance={case}")
        assert response.status_code == 200
        assert response.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        sheet = load_workbook(io.BytesIO(response.data), read_only=True)["Denetim izi"]
        return " ".join(str(v) for row in sheet.iter_rows(values_only=True) for v in row if v is not None)

    masked = cells("ok.mudur")  # sees the TCKN on screen, but a bulk export needs the KVKK role
    assert MASKED_TCKN in masked and TCKN not in masked
    assert TCKN in cells("kvkk1")


def test_chain_check_is_shown_and_a_tampered_chain_is_reported(db, case, signed_in):
    auditor = signed_in("denetci1")
    assert auditor.post("/audit/chain", token_from="/audit").status_code == 303
    page = auditor.get("/audit").get_data(as_text=True)
    assert 'data-chain="ok"' in page and "Denetim zinciri sağlam" in page
    with db.write_engine.begin() as conn:
        conn.execute(text("UPDATE audit_event SET action = 'task.sahte' WHERE seq = 3"))
    auditor.post("/audit/chain", token_from="/audit")
    page = auditor.get("/audit").get_data(as_text=True)
    assert 'data-chain="broken"' in page and "kayıt #3" in page
