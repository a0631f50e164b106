"""The statistics pages (``/stats``): the dashboard with charts and CSV, the heatmap of a version, and
the diagram data of one case (``/instances/<id>/diagram-state.json``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from factories import DATA, act, open_tasks, start

from engine import clock, definitions, tasks

WEB = DATA / "web"
FILES = [(p.name, p.read_bytes()) for p in (WEB / "designer_surec.bpmn", WEB / "designer_kayit.form.json")]
T0 = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)
NOW = T0 + timedelta(days=10)
MARCH = "from=2026-03-01&to=2026-03-31"


@pytest.fixture
def cases(db):
    """Two cases started at T0: one completed an hour later, one still open (late by NOW)."""
    act(db, None, lambda s, a: definitions.deploy(s, a, FILES))
    with clock.frozen_at(T0):
        done, waiting = start(db, "tasarim_testi"), start(db, "tasarim_testi")
    [task] = [t for t in open_tasks(db, "idari1") if t["instance_id"] == done]
    with clock.frozen_at(T0 + timedelta(hours=1)):
        act(db, "idari1", lambda s, a: tasks.complete(s, a, task["id"], {"konu": "Konu"}))
    return done, waiting


def get(b, path):
    with clock.frozen_at(NOW):
        return b.get(path)


class TestDashboard:
    def test_volumes_rates_and_charts(self, cases, signed_in):
        response = get(signed_in("ok.mudur"), f"/stats?{MARCH}&kind=")
        html = response.get_data(as_text=True)
        assert response.status_code == 200
        assert 'data-process="tasarim_testi"' in html
        row = html.split('data-process="tasarim_testi"')[1].split("</tr>")[0]
        assert "<td>2</td><td>1</td><td>1</td>" in row and "%100" in row
        assert '<svg class="chart" id="chart-process-volume"' in html
        assert 'data-group="idari_isler"' in html

    def test_a_bad_date_is_explained(self, cases, signed_in):
        response = get(signed_in("ok.mudur"), "/stats?from=31.03.2026")
        assert response.status_code == 400
        assert "YYYY-AA-GG" in response.get_data(as_text=True)

    def test_clerks_are_refused(self, cases, signed_in):
        assert get(signed_in("idari1"), "/stats").status_code == 403

    def test_csv_export(self, cases, signed_in):
        response = get(signed_in("tasarimci1"), f"/stats/export.csv?report=processes&{MARCH}")
        assert response.mimetype == "text/csv"
        assert "kalem-processes-2026-03-01-2026-03-31.csv" in response.headers["Content-Disposition"]
        lines = response.get_data(as_text=True).lstrip("\ufeff").splitlines()
        assert lines[0].startswith("key,name,started,finished")
        assert lines[1].startswith("tasarim_testi,Tasarım testi,2,1,1,1,1")
        tasks_csv = get(signed_in("tasarimci1"), f"/stats/export.csv?report=tasks&key=tasarim_testi&version=1&{MARCH}")
        assert (
            tasks_csv.get_data(as_text=True).lstrip("\ufeff").splitlines()[1].startswith("Task_kayit,Kaydı yap,2,1,1")
        )


class TestHeatmap:
    def test_page_and_data(self, cases, signed_in):
        b = signed_in("tasarimci1")
        html = get(b, f"/stats/processes/tasarim_testi/1?{MARCH}").get_data(as_text=True)
        assert 'data-element-id="Task_kayit"' in html and "1,0 sa" in html
        data = get(b, f"/stats/processes/tasarim_testi/1/heatmap.json?{MARCH}").get_json()
        element = data["elements"]["Task_kayit"]
        assert (element["completed"], element["open"], element["overdue"], element["avg_label"]) == (1, 1, 1, "1,0 sa")
        assert b'id="Task_kayit"' in get(b, "/stats/processes/tasarim_testi/1/source.bpmn").data

    def test_unknown_version_is_404(self, cases, signed_in):
        assert get(signed_in("tasarimci1"), "/stats/processes/tasarim_testi/4").status_code == 404


class TestInstanceDiagram:
    def test_state_of_a_waiting_case(self, cases, signed_in):
        _done, waiting = cases
        data = get(signed_in("idari1"), f"/instances/{waiting}/diagram-state.json").get_json()
        assert data["current"] == [{"id": "Task_kayit", "tokens": 1}]
        assert data["completed"] == ["Start_tasarim"] and data["flows"] == ["Flow_1"]
        assert data["open_tasks"][0]["overdue"] is True

    def test_outsiders_get_404(self, cases, signed_in):
        _done, waiting = cases
        assert get(signed_in("zabita.memur"), f"/instances/{waiting}/diagram-state.json").status_code == 404

    def test_full_page(self, cases, signed_in):
        done, _waiting = cases
        html = get(signed_in("idari1"), f"/stats/instances/{done}").get_data(as_text=True)
        assert f'data-state="/instances/{done}/diagram-state.json"' in html
