"""In a real browser (Debian's /usr/bin/chromium driven by Playwright): a clerk signs in, claims a
task from the group tab, opens it, sees the conditional field appear, submits an invalid then a
valid form, and opens the case with its diagram. Screenshots go to tests/artifacts/screenshots/."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from factories import read, start
from sqlalchemy import select
from web_client import deploy_web
from werkzeug.serving import make_server

from engine.models import HumanTask, TaskState

CHROMIUM = Path("/usr/bin/chromium")
VENDOR = Path(__file__).resolve().parents[2] / "webui" / "static" / "vendor" / "bpmn-js"
SHOTS = Path(__file__).resolve().parents[1] / "artifacts" / "screenshots"
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="/usr/bin/chromium yok: Debian'ın chromium paketini kurun (make browser)"
)


@pytest.fixture
def server(app) -> Iterator[str]:
    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_port}"
    finally:
        httpd.shutdown()
        thread.join(timeout=10)
        httpd.server_close()


@pytest.fixture
def page(server) -> Iterator[object]:
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        context = browser.new_context(locale="tr-TR", viewport={"width": 1280, "height": 900})
        tab = context.new_page()
        tab.set_default_timeout(15_000)
        try:
            yield tab
        finally:
            context.close()
            browser.close()


def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def test_clerk_claims_and_completes_a_task_in_the_browser(db, server, page):
    deploy_web(db)
    instance_id = start(
        db,
        "web_dilekce",
        username="idari2",
        business_key="DLK-2026-000123",
        subject="Sokak lambası yanmıyor",
        data={"basvuran_ad_soyad": "Zehra Kaya", "kanal": "dilekce"},
    )
    task_id = read(db, lambda s: s.scalar(select(HumanTask.id).where(HumanTask.instance_id == instance_id)))

    page.goto(f"{server}/login")
    shot(page, "01-giris")
    page.fill("#username", "idari1")
    page.fill("#password", "demo")
    page.click("button[type=submit]")
    page.wait_for_url(f"{server}/")
    assert page.locator('[data-tab="mine"] .count').inner_text() == "0"

    page.click('[data-tab="group"]')
    row = page.locator(f'tr[data-task-id="{task_id}"]')
    assert "Sokak lambası yanmıyor" in row.inner_text()
    shot(page, "02-is-listesi-grup")
    row.get_by_role("button", name="Üstlen").click()
    page.wait_for_selector(".flash.success")
    assert page.locator('[data-tab="mine"] .count').inner_text() == "1"

    page.click('[data-tab="mine"]')
    page.click(f'tr[data-task-id="{task_id}"] a')
    page.wait_for_url(f"{server}/tasks/{task_id}")
    reason = page.locator('[data-field="red_gerekcesi"]')
    assert reason.is_hidden()
    page.select_option("#f-sonuc", "olumsuz")
    assert reason.is_visible()
    page.click("#task-form button[type=submit]")
    page.wait_for_selector(".form-error")
    assert reason.locator(".errors").inner_text() == "Bu alan zorunludur."
    shot(page, "03-gorev-hatali-gonderim")

    page.fill("#f-red_gerekcesi", "Bütçe bu yıl için yetersiz.")
    page.click("#task-form button[type=submit]")
    page.wait_for_url(f"{server}/")
    assert "Görev tamamlandı." in page.locator(".flash.success").inner_text()
    assert read(db, lambda s: s.get(HumanTask, task_id).state) == TaskState.COMPLETED

    page.goto(f"{server}/instances/{instance_id}")
    canvas = page.locator("#bpmn-canvas")
    if VENDOR.exists():
        page.wait_for_selector("#bpmn-canvas[data-rendered=true]")
        assert page.locator('#bpmn-canvas [data-element-id="Task_onay"].kalem-current').count() == 1
        assert page.locator('#bpmn-canvas [data-element-id="Task_inceleme"].kalem-done').count() == 1
    else:
        assert "Diyagram görüntüleyici yüklenmemiş" in canvas.inner_text()
    shot(page, "04-dosya")
