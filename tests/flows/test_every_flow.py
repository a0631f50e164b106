"""Every flow shipped in ``processes/`` runs from start to end through the ``kalem`` command, as
the demo users, with every form filled with valid example values (``driver.py``)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from factories import DATA, PROCESSES

from flows.driver import drive, entry_processes, load_forms
from webui.cli import main

ENTRY = entry_processes(PROCESSES)
# Who starts a flow and with what, where a flow is not started by Özel Kalem's intake with no data.
STARTS = {
    "f5_baskan_onayi": ("fenisleri.memur", {"gonderen_birim": "fen_isleri"}),
}


@pytest.fixture
def kalem(tmp_path, monkeypatch, sqlite_template):
    shutil.copy(sqlite_template, tmp_path / "kalem.sqlite3")
    monkeypatch.setenv("KALEM_INSTANCE_DIR", str(tmp_path))
    monkeypatch.setenv("KALEM_DATABASE_URL", f"sqlite:///{tmp_path / 'kalem.sqlite3'}")
    monkeypatch.setenv("KALEM_AUDIT_KEY", "test-audit-key")
    runner = CliRunner()

    def run(*args: str) -> tuple[int, str]:
        result = runner.invoke(main, list(args), catch_exceptions=False)
        return result.exit_code, result.stdout + result.stderr

    return run


def test_seed_demo_deploys_every_flow(kalem) -> None:
    code, output = kalem("seed-demo")
    assert code == 0, output
    code, output = kalem("definitions", "--json")
    deployed = {d["key"] for d in json.loads(output)}
    assert set(ENTRY) <= deployed


@pytest.mark.skipif(not ENTRY, reason="no flows under processes/ yet")
@pytest.mark.parametrize("key", ENTRY)
def test_flow_runs_to_its_end_through_the_cli(kalem, key: str, tmp_path: Path) -> None:
    assert kalem("seed-demo")[0] == 0
    starter, data = STARTS.get(key, (None, None))
    run = drive(kalem, key, load_forms(PROCESSES), tmp_path, starter=starter, start_data=data)
    assert run.status == "completed", run.steps
    assert run.data.get("sonuc"), f"{key} ended without a 'sonuc': {run.data}"
    code, output = kalem("audit", "verify")
    assert code == 0, output


def test_the_driver_takes_a_process_through_a_message(kalem, tmp_path: Path) -> None:
    assert kalem("deploy", str(DATA / "havale_test.bpmn"), str(DATA / "kayit_formu.form.json"))[0] == 0
    run = drive(kalem, "test_havale", load_forms(DATA), tmp_path, message_data={"mudurluk_yaniti": {"metin": "Tamam"}})
    assert run.status == "completed"
    assert run.steps == ["Task_kayit", "Task_cevap", "message:mudurluk_yaniti"]
