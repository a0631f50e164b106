"""In a real browser (Debian's /usr/bin/chromium driven by Playwright): a process designer adds a user
task to a running flow in the bpmn-js modeler, sees the check fail on that task for a missing form,
fixes it, deploys v2 with a change note, moves a running case to v2, and the case continues there.
Screenshots go to tests/artifacts/screenshots/designer-*.png."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from factories import DATA, act, open_tasks, read, start
from sqlalchemy import select
from werkzeug.serving import make_server

from engine import bpmn_xml, definitions, tasks
from engine.models import ProcessInstance

CHROMIUM = Path("/usr/bin/chromium")
MODELER = (
    Path(__file__).resolve().parents[2] / "webui" / "static" / "vendor" / "bpmn-js" / "bpmn-modeler.production.min.js"
)
SHOTS = Path(__file__).resolve().parents[1] / "artifacts" / "screenshots"
LAUNCH_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
WEB = DATA / "web"

pytestmark = [
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="/usr/bin/chromium yok: Debian'ın chromium paketini kurun (make browser)"
    ),
    pytest.mark.skipif(
        not MODELER.exists(), reason="bpmn-js yüklenmemiş (webui/static/vendor): npm ci gerekli (make run / make test)"
    ),
]


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
        context = browser.new_context(locale="tr-TR", viewport={"width": 1440, "height": 1000})
        tab = context.new_page()
        tab.set_default_timeout(15_000)
        errors: list[str] = []
        tab.on("pageerror", lambda exc: errors.append(str(exc)))
        try:
            yield tab
            assert errors == [], f"JavaScript errors: {errors}"
        finally:
            context.close()
            browser.close()


def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"designer-{name}.png"), full_page=True)


def sign_in(page, server: str, username: str) -> None:
    page.goto(f"{server}/login")
    page.fill("#username", username)
    page.fill("#password", "demo")
    page.click("button[type=submit]")
    page.wait_for_url(f"{server}/")


def set_field(page, selector: str, value: str) -> None:
    """Type into a panel field and leave it, as a user does (the panel applies on change)."""
    page.fill(selector, value)
    page.press(selector, "Tab")


def test_designer_adds_a_task_fixes_its_form_deploys_v2_and_moves_a_running_case(db, server, page):
    files = [(p.name, p.read_bytes()) for p in (WEB / "designer_kayit.form.json", WEB / "designer_surec.bpmn")]
    act(db, None, lambda s, a: definitions.deploy(s, a, files, change_note="ilk sürüm"))
    instance_id = start(db, "tasarim_testi", business_key="TSR-2026-1")

    sign_in(page, server, "tasarimci1")
    page.click("nav.mainnav >> text=Süreç tasarımı")
    page.wait_for_url(f"{server}/designer")
    row = page.locator('tr[data-process="tasarim_testi"][data-version="1"]')
    assert "1" in row.locator("td").nth(4).inner_text()  # one running case on v1
    shot(page, "01-liste")
    row.get_by_role("link", name="Modelleyicide aç").click()
    page.wait_for_selector("#modeler[data-ready=true]")

    # Select the registration step and put a new user task after it.
    page.click('#modeler .djs-element[data-element-id="Task_kayit"]')
    page.wait_for_selector("#panel-form:not([hidden])")
    assert page.input_value("#p-formKey") == "designer_kayit"
    page.click("#btn-insert")
    page.wait_for_function("document.getElementById('p-id').value.startsWith('Task_yeni_')")
    set_field(page, "#p-id", "Task_kontrol")
    set_field(page, "#p-name", "Kontrolü yap")
    set_field(page, "#p-formKey", "kontrol_formu")
    assert page.locator('#modeler .djs-element[data-element-id="Task_kontrol"]').count() == 1
    shot(page, "02-yeni-gorev")

    # The check fails on the new task: its form does not exist.
    page.click("#btn-check")
    problem = page.locator('#problems li[data-element-id="Task_kontrol"]')
    problem.wait_for()
    assert "kontrol_formu" in problem.inner_text()
    assert page.locator('#modeler .djs-element.kalem-problem[data-element-id="Task_kontrol"]').count() == 1
    assert page.locator(".kalem-problem-badge").count() == 1
    shot(page, "03-dogrulama-hatasi")

    # Fix it with a known form from the picker (the problem in the list leads to its element).
    page.click("#btn-check")  # the same problem again; clicking it selects its element
    problem.wait_for()
    page.click('#modeler .djs-element[data-element-id="Task_kayit"]')
    problem.click()
    assert page.input_value("#p-id") == "Task_kontrol"
    page.select_option("#p-formKey-pick", "designer_kayit")
    assert page.input_value("#p-formKey") == "designer_kayit"
    page.click("#btn-check")
    page.wait_for_selector("#designer-status.success")
    assert page.locator("#problems li").count() == 0
    assert page.locator(".kalem-problem-badge").count() == 0

    # Deploy v2 with a change note.
    page.click("#btn-deploy")
    page.wait_for_selector("#designer-status.error")
    assert "değişiklik notu" in page.inner_text("#designer-status").lower()
    page.fill("#change-note", "Kayıttan sonra kontrol adımı eklendi")
    page.click("#btn-deploy")
    page.wait_for_selector("#designer-status.success")
    assert "tasarim_testi v2" in page.inner_text("#designer-status")
    shot(page, "04-dagitildi")
    v2 = read(db, lambda s: definitions.get_latest(s, "tasarim_testi"))
    assert (v2.version, v2.change_note) == (2, "Kayıttan sonra kontrol adımı eklendi")
    assert json.dumps(v2.form_bindings).count("designer_kayit") == 1

    # The dry run says the running case can move; move it.
    page.click("#designer-status >> text=Süren dosyaları taşı")
    page.wait_for_url(f"{server}/designer/processes/tasarim_testi/migrate?to=2")
    case_row = page.locator(f'#outcomes tr[data-instance-id="{instance_id}"]')
    assert "Taşınabilir" in case_row.inner_text() and "Task_kayit" in case_row.inner_text()
    shot(page, "05-tasima-denemesi")
    case_row.locator('input[name="instance_ids"]').check()
    page.click("#btn-migrate")
    page.wait_for_selector("#migration-result")
    assert "Taşındı" in page.locator(f'#outcomes tr[data-instance-id="{instance_id}"]').inner_text()
    shot(page, "06-tasindi")

    # The case now runs on v2: after the registration step comes the new control step.
    version = read(
        db, lambda s: s.scalar(select(ProcessInstance).where(ProcessInstance.id == instance_id)).definition.version
    )
    assert version == 2
    [task] = [t for t in open_tasks(db, "idari1") if t["instance_id"] == instance_id]
    act(db, "idari1", lambda s, a: tasks.complete(s, a, task["id"], {"konu": "Sokak aydınlatması"}))
    assert [(t["bpmn_id"], t["name"]) for t in open_tasks(db, "idari1") if t["instance_id"] == instance_id] == [
        ("Task_kontrol", "Kontrolü yap")
    ]

    # The version diff shows the new step.
    page.goto(f"{server}/designer/processes/tasarim_testi/diff?from=1&to=2")
    assert page.locator('#changes tr[data-element-id="Task_kontrol"][data-status="added"]').count() == 1
    page.wait_for_selector("#diff-new[data-rendered=true]")
    assert page.locator('#diff-new .djs-element.kalem-added[data-element-id="Task_kontrol"]').count() == 1
    shot(page, "07-fark")


def test_form_designer_previews_live_and_deploys_and_the_stats_pages_draw(db, server, page):
    files = [(p.name, p.read_bytes()) for p in (WEB / "designer_kayit.form.json", WEB / "designer_surec.bpmn")]
    act(db, None, lambda s, a: definitions.deploy(s, a, files))
    done, waiting = start(db, "tasarim_testi"), start(db, "tasarim_testi")
    [task] = [t for t in open_tasks(db, "idari1") if t["instance_id"] == done]
    act(db, "idari1", lambda s, a: tasks.complete(s, a, task["id"], {"konu": "Konu"}))

    sign_in(page, server, "tasarimci1")
    page.goto(f"{server}/designer/forms")
    page.fill("#nf-key", "ek_bilgi")
    page.fill("#nf-title", "Ek bilgi")
    page.click("#new-form button[type=submit]")
    page.wait_for_selector("#preview #f-aciklama")

    # A new choice field appears in the preview as it is typed; a bad option is flagged on its row.
    page.click("#btn-add-field")
    row = page.locator(".field-row").nth(1)
    row.locator('[data-key="name"]').fill("oncelik")
    row.locator('[data-key="label"]').fill("Öncelik")
    row.locator('[data-key="type"]').select_option("choice")
    row.locator('[data-key="choices"]').fill("acil=Acil\nnormal=Normal")
    page.wait_for_selector('#preview select#f-oncelik option[value="normal"]', state="attached")
    row.locator('[data-key="name"]').fill("1kotu")
    page.wait_for_selector(".field-row.has-error")
    assert "alan adı" in page.inner_text("#problems").lower()
    row.locator('[data-key="name"]').fill("oncelik")
    page.wait_for_selector("#preview select#f-oncelik")
    assert page.locator(".field-row.has-error").count() == 0
    shot(page, "08-form-tasarimi")
    page.click("#btn-deploy")
    page.wait_for_selector("#designer-status.success")
    assert "ek_bilgi v1" in page.inner_text("#designer-status")

    # The heatmap colours the task; the case's path shows where it waits.
    page.goto(f"{server}/stats/processes/tasarim_testi/1")
    page.wait_for_selector("#heatmap[data-rendered=true]")
    assert page.locator('#heatmap .heat-overlay[data-element-id="Task_kayit"]').count() == 1
    shot(page, "09-isi-haritasi")
    page.goto(f"{server}/stats")
    assert page.locator('#process-table tr[data-process="tasarim_testi"]').count() == 1
    assert page.locator("svg#chart-process-volume rect").count() == 1
    shot(page, "10-istatistikler")

    page.click("button:has-text('Çıkış')")
    sign_in(page, server, "idari1")
    page.goto(f"{server}/stats/instances/{waiting}")
    page.wait_for_selector("#instance-diagram[data-rendered=true]")
    assert page.locator('#instance-diagram .djs-element.kalem-current[data-element-id="Task_kayit"]').count() == 1
    assert page.locator('#instance-diagram .djs-element.kalem-path[data-element-id="Flow_1"]').count() == 1
    assert page.locator("#instance-diagram .token-badge").inner_text() == "1"
    shot(page, "11-dosyanin-yolu")


def test_the_modeler_keeps_every_extension_and_changes_only_what_the_panel_changed(db, server, page):
    files = [(p.name, p.read_bytes()) for p in (WEB / "designer_kayit.form.json", WEB / "designer_zengin.bpmn")]
    act(db, None, lambda s, a: definitions.deploy(s, a, files))
    # Lanes need a pool to be drawn: the generated diagram adds one, and nothing else.
    original = bpmn_xml.ensure_diagram((WEB / "designer_zengin.bpmn").read_bytes())

    sign_in(page, server, "tasarimci1")
    page.goto(f"{server}/designer/processes/designer_zengin/1")
    page.wait_for_selector("#modeler[data-ready=true]")  # deployed without a diagram: one was generated
    export = "window.kalemModeler.saveXML({format: true}).then(function (r) { return r.xml; })"
    assert bpmn_xml.diff(original, page.evaluate(export)) == []

    page.click('#modeler .djs-element[data-element-id="Task_kayit"]')
    assert page.input_value("#p-dueDate") == "is_gunu_sonra(3)"
    set_field(page, "#p-priority", "80")
    page.click('#modeler .djs-element[data-element-id="Svc_bildir"]')
    assert page.input_value("#p-handler") == "notify"
    changes = [c.as_dict() for c in bpmn_xml.diff(original, page.evaluate(export))]
    assert changes == [
        {
            "element_id": "Task_kayit",
            "status": "changed",
            "type": "userTask",
            "name": "Kaydet",
            "changes": [{"what": "property:priority", "old": "70", "new": "80"}],
        }
    ]
    page.keyboard.press("Control+z")  # the panel's edits are commands: undo reverts them
    assert bpmn_xml.diff(original, page.evaluate(export)) == []
    page.click("#btn-check")
    page.wait_for_selector("#designer-status.success")
    shot(page, "12-zengin-surec")
