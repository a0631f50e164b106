"""Upload limits and type checks: case attachments, files on a task's form, the designer's upload and
the API's import. Too large, empty, unaccepted or disguised files are refused with a message and
leave no row and no file behind; an accepted file is only ever served back as a download."""

from __future__ import annotations

import dataclasses
import gc
import io
from pathlib import Path
from typing import Any

import pytest
from factories import DATA, act, read
from security_support import Browser, bearer, deploy_havale, routed_case
from sqlalchemy import func, select

from engine import definitions, instances
from engine.models import Attachment, DesignDraft, HumanTask
from webui import create_app

LIMIT = 64 * 1024
PDF = b"%PDF-1.4\n" + b"0" * 100

REFUSED_FILES = [
    pytest.param("bos.pdf", b"", id="empty"),
    pytest.param("sayfa.html", b"<html><script>alert(1)</script></html>", id="html"),
    pytest.param("resim.svg", b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>', id="svg"),
    pytest.param("kurulum.exe", b"MZ\x90\x00" + b"\x00" * 100, id="executable"),
    pytest.param("fatura.pdf", b"<html><script>alert(1)</script></html>", id="html-disguised-as-pdf"),
    pytest.param("tablo.xlsx", b"%PDF-1.4\n", id="pdf-disguised-as-xlsx"),
    pytest.param("not.txt", b"\xff\xfe\x00binary\x00", id="binary-as-text"),
    pytest.param("buyuk.pdf", b"%PDF-1.4\n" + b"0" * (LIMIT + 1), id="over-the-limit"),
    pytest.param("ciftuzanti.pdf.html", b"%PDF-1.4\n<script>alert(1)</script>", id="double-extension"),
]


@pytest.fixture
def spooled_files() -> Any:
    """Werkzeug leaves the spooled temporary file of a refused large upload to the garbage collector:
    collect it while this test's warning filters still apply."""
    yield
    gc.collect()


def spooled(test: Any) -> Any:
    """For tests sending large uploads: the ``spooled_files`` fixture, and no error for that warning."""
    ignore = pytest.mark.filterwarnings("ignore::ResourceWarning", "ignore::pytest.PytestUnraisableExceptionWarning")
    return pytest.mark.usefixtures("spooled_files")(ignore(test))


@pytest.fixture
def small_app(db, settings: Any, tmp_path: Path, restore_engine: Any) -> Any:
    """The app with a 64 KB attachment limit and its own attachment store."""
    limited = dataclasses.replace(settings, attachment_max_bytes=LIMIT, instance_dir=tmp_path / "instance")
    app = create_app(limited, database=db)
    app.config["TESTING"] = True
    return app


def signed_in(app: Any, username: str) -> Browser:
    browser = Browser(app.test_client())
    assert browser.login(username).status_code == 302
    return browser


def stored_files(app: Any) -> list[Path]:
    store = app.extensions["kalem_settings"].attachment_dir
    return sorted(p for p in store.rglob("*") if p.is_file()) if store.exists() else []


def attachment_rows(db: Any) -> int:
    return read(db, lambda s: s.scalar(select(func.count()).select_from(Attachment)))


@pytest.mark.parametrize(("filename", "content"), REFUSED_FILES)
def test_a_refused_case_attachment_leaves_nothing(small_app, db, filename, content) -> None:
    deploy_havale(db)
    case = routed_case(db, "fen_isleri", "UPLOAD-1")
    clerk = signed_in(small_app, "fenisleri.memur")
    response = clerk.post(
        f"/instances/{case.instance_id}/attachments",
        {"file": (io.BytesIO(content), filename)},
        content_type="multipart/form-data",
        follow_redirects=True,
    )
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "Dosya" in page and ("kabul edilmiyor" in page or "uyuşmuyor" in page or "büyük" in page or "boş" in page)
    assert attachment_rows(db) == 0 and stored_files(small_app) == []


@spooled
def test_a_body_beyond_the_request_limit_is_cut_off_unread(small_app, db) -> None:
    deploy_havale(db)
    case = routed_case(db, "fen_isleri", "UPLOAD-2")
    clerk = signed_in(small_app, "fenisleri.memur")
    huge = b"%PDF-1.4\n" + b"0" * (LIMIT + 2 * 1024 * 1024)
    response = clerk.post(
        f"/instances/{case.instance_id}/attachments",
        {"file": (io.BytesIO(huge), "cok_buyuk.pdf")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 413 and "büyük" in response.get_data(as_text=True)
    assert attachment_rows(db) == 0 and stored_files(small_app) == []


def test_an_accepted_file_is_stored_by_content_and_served_only_as_a_download(small_app, db) -> None:
    deploy_havale(db)
    case = routed_case(db, "fen_isleri", "UPLOAD-3")
    clerk = signed_in(small_app, "fenisleri.memur")
    text = b"<html><script>alert(document.cookie)</script></html>"
    response = clerk.post(
        f"/instances/{case.instance_id}/attachments",
        {"file": (io.BytesIO(text), "../../../../etc/not.txt")},
        content_type="multipart/form-data",
    )
    assert response.status_code in (302, 303)
    [row] = read(db, lambda s: s.scalars(select(Attachment)).all())
    [blob] = stored_files(small_app)
    assert blob.read_bytes() == text and blob.name == row.sha256 and "/" not in row.filename
    download = clerk.get(f"/attachments/{row.id}")
    assert download.data == text
    assert download.headers["Content-Disposition"].startswith("attachment")
    assert download.headers["X-Content-Type-Options"] == "nosniff"
    assert download.mimetype == "text/plain"
    assert "default-src 'none'" in download.headers["Content-Security-Policy"]
    download.close()


def test_a_refused_file_on_a_task_form_completes_nothing(small_app, db) -> None:
    files = [(p.name, p.read_bytes()) for p in sorted((DATA / "web").glob("web_*"))]
    act(db, None, lambda s, a: definitions.deploy(s, a, files))
    data = {"basvuran_ad_soyad": "Ayşe Yılmaz", "kanal": "dilekce"}
    instance_id = act(db, "idari1", lambda s, a: instances.start(s, a, "web_dilekce", data=data).id)
    task_id = read(db, lambda s: s.scalar(select(HumanTask.id).where(HumanTask.instance_id == instance_id)))
    clerk = signed_in(small_app, "idari1")
    response = clerk.post(
        f"/tasks/{task_id}",
        {"sonuc": "olumlu", "ek": (io.BytesIO(b"<svg onload=alert(1)>"), "ek.svg")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 400 and "kabul edilmiyor" in response.get_data(as_text=True)
    assert read(db, lambda s: s.get(HumanTask, task_id)).state == "open"
    assert attachment_rows(db) == 0 and stored_files(small_app) == []


DESIGNER_FILES = [
    pytest.param("surec.exe", b"MZ", id="wrong-extension"),
    pytest.param("../../surec.bpmn", b"<x/>", id="path-in-name"),
    pytest.param("surec.bpmn", b"\xff\xfe<\x00x\x00/\x00>\x00", id="not-utf8"),
    pytest.param("surec.bpmn", b"<x>" + b"a" * (6 * 1024 * 1024) + b"</x>", id="too-large"),
]


@spooled
@pytest.mark.parametrize(("filename", "content"), DESIGNER_FILES)
def test_the_designer_upload_refuses_bad_files(app, db, sign_in, filename, content) -> None:
    designer = sign_in("tasarimci1")
    response = designer.post(
        "/designer/upload", {"file": (io.BytesIO(content), filename)}, content_type="multipart/form-data"
    )
    assert response.status_code in (303, 413)
    assert read(db, lambda s: s.scalar(select(func.count()).select_from(DesignDraft))) == 0


@spooled
def test_the_api_import_refuses_large_and_foreign_files(app, db) -> None:
    client = app.test_client()
    headers = bearer(db, "hi1", ["import:write"])
    big = client.post(
        "/api/v1/imports/cimer",
        headers=headers,
        data={"file": (io.BytesIO(b"a;b\n" * (3 * 1024 * 1024)), "cimer.csv")},
    )
    assert big.status_code == 413 and big.json["error"]["code"] == "too_large"
    foreign = client.post(
        "/api/v1/imports/cimer", headers=headers, data={"file": (io.BytesIO(b"MZ\x90\x00"), "cimer.exe")}
    )
    assert foreign.status_code in (400, 422) and foreign.json["error"]["code"] != "internal"
