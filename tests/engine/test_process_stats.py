"""Where time goes: waiting times per task of a version (average, p90, late), volumes and on-time rates
per process and candidate group over a bounded range, CSV, and an instance's path on its diagram."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from factories import DATA, act, open_tasks, start

from engine import clock, definitions, incidents, process_stats, tasks
from engine.errors import InvalidInput, NotAllowed, NotFound, ProcessError

WEB = DATA / "web"
FILES = [(p.name, p.read_bytes()) for p in (WEB / "designer_surec.bpmn", WEB / "designer_kayit.form.json")]
# Monday 2 March 2026, 09:00 in Istanbul; Task_kayit is due at the end of the second business day after.
T0 = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)
MARCH = process_stats.Period(date(2026, 3, 1), date(2026, 3, 31))


def at(instant: datetime, db, username, fn):
    with clock.frozen_at(instant):
        return act(db, username, fn)


def complete_at(db, instance_id: int, instant: datetime) -> None:
    [task] = [t for t in open_tasks(db, "idari1") if t["instance_id"] == instance_id]
    at(instant, db, "idari1", lambda s, a: tasks.complete(s, a, task["id"], {"konu": "Konu"}))


@pytest.fixture
def cases(db):
    """Ten cases started at T0 and completed 1..10 hours later, one completed 10 days later (late),
    one still open (late by "now" = T0 + 10 days), one started in April (outside MARCH)."""
    act(db, None, lambda s, a: definitions.deploy(s, a, FILES))
    with clock.frozen_at(T0):
        ids = [start(db, "tasarim_testi") for _ in range(12)]
    for hours, instance_id in enumerate(ids[:10], start=1):
        complete_at(db, instance_id, T0 + timedelta(hours=hours))
    complete_at(db, ids[10], T0 + timedelta(days=10))
    with clock.frozen_at(datetime(2026, 4, 6, 6, 0, tzinfo=UTC)):
        start(db, "tasarim_testi")
    return ids


def stats_as(db, username, fn, now=T0 + timedelta(days=10, hours=1)):
    return at(now, db, username, fn)


class TestTaskStats:
    def test_average_p90_and_late_counts_per_task(self, db, cases):
        [row] = stats_as(db, "tasarimci1", lambda s, a: process_stats.task_stats(s, a, "tasarim_testi", 1, MARCH))
        assert (row.bpmn_id, row.name) == ("Task_kayit", "Kaydı yap")
        assert (row.created, row.completed, row.open) == (12, 11, 1)
        hour = 3600
        assert row.avg_wait_s == pytest.approx((55 * hour + 240 * hour) / 11, abs=1)
        # Nearest rank: ceil(0.9 * 11) = 10th smallest of 1..10 h and 240 h.
        assert row.p90_wait_s == pytest.approx(10 * hour, abs=1)
        assert (row.late_completed, row.late_open, row.overdue) == (1, 1, 2)
        assert row.on_time_rate == pytest.approx(10 / 11, abs=1e-4)

    def test_only_tasks_created_in_the_range_count(self, db, cases):
        april = process_stats.Period(date(2026, 4, 1), date(2026, 4, 30))
        [row] = stats_as(db, "tasarimci1", lambda s, a: process_stats.task_stats(s, a, "tasarim_testi", 1, april))
        assert (row.created, row.completed, row.avg_wait_s, row.p90_wait_s) == (1, 0, None, None)
        empty = process_stats.Period(date(2025, 1, 1), date(2025, 1, 31))
        assert stats_as(db, "tasarimci1", lambda s, a: process_stats.task_stats(s, a, "tasarim_testi", 1, empty)) == []

    def test_heatmap_levels_follow_the_slowest_task(self, db, cases):
        data = stats_as(db, "ok.mudur", lambda s, a: process_stats.heatmap(s, a, "tasarim_testi", 1, MARCH))
        assert data["elements"]["Task_kayit"]["level"] == 4
        assert data["elements"]["Task_kayit"]["overdue"] == 2

    def test_unknown_version_is_not_found(self, db, cases):
        with pytest.raises(NotFound):
            stats_as(db, "tasarimci1", lambda s, a: process_stats.task_stats(s, a, "tasarim_testi", 7, MARCH))


class TestVolumes:
    def test_per_process(self, db, cases):
        [row] = stats_as(db, "ok.mudur", lambda s, a: process_stats.process_volumes(s, a, MARCH))
        assert (row.key, row.name, row.started, row.finished) == ("tasarim_testi", "Tasarım testi", 12, 11)
        assert (row.tasks_completed, row.tasks_on_time, row.tasks_late_open) == (11, 10, 1)
        assert row.on_time_rate == pytest.approx(10 / 11, abs=1e-4)

    def test_per_candidate_group(self, db, cases):
        rows = stats_as(db, "ok.mudur", lambda s, a: process_stats.group_volumes(s, a, MARCH))
        [idari] = [r for r in rows if r.code == "idari_isler"]
        assert (idari.tasks_created, idari.tasks_completed, idari.tasks_on_time, idari.tasks_late_open) == (
            12,
            11,
            10,
            1,
        )
        assert idari.name == "İdari İşler Personeli" and idari.kind == "role"
        only_directorates = stats_as(
            db, "ok.mudur", lambda s, a: process_stats.group_volumes(s, a, MARCH, kind="directorate")
        )
        assert only_directorates == []

    def test_csv_has_a_header_and_one_line_per_row(self, db, cases):
        rows = stats_as(db, "ok.mudur", lambda s, a: process_stats.process_volumes(s, a, MARCH))
        text = process_stats.to_csv(rows)
        lines = text.lstrip("\ufeff").splitlines()
        assert lines[0].startswith("key,name,started") and lines[0].endswith("on_time_rate")
        assert lines[1].startswith("tasarim_testi,Tasarım testi,12,11,11,10,1,0.9091")


class TestRules:
    @pytest.mark.parametrize(
        ("first", "last"), [(date(2026, 3, 2), date(2026, 3, 1)), (date(2024, 1, 1), date(2026, 1, 1))]
    )
    def test_reversed_or_too_long_ranges_are_refused(self, first, last):
        with pytest.raises(InvalidInput):
            process_stats.period(first, last)

    def test_default_range_is_the_last_thirty_days(self):
        with clock.frozen_at(T0):
            p = process_stats.period()
        assert (p.first, p.last) == (date(2026, 2, 1), date(2026, 3, 2))
        assert p.since == datetime(2026, 1, 31, 21, 0, tzinfo=UTC)

    def test_clerks_see_no_statistics(self, db, cases):
        with pytest.raises(NotAllowed):
            act(db, "idari1", lambda s, a: process_stats.process_volumes(s, a, MARCH))


class TestInstanceDiagram:
    def test_completed_path_current_tokens_and_flows(self, db, cases):
        done = act(db, "idari1", lambda s, a: process_stats.instance_diagram(s, a, cases[0]))
        assert done["status"] == "completed" and done["current"] == []
        assert set(done["completed"]) == {"Start_tasarim", "Task_kayit", "End_tasarim"}
        assert done["flows"] == ["Flow_1", "Flow_2"]
        waiting = act(db, "idari1", lambda s, a: process_stats.instance_diagram(s, a, cases[11]))
        assert waiting["current"] == [{"id": "Task_kayit", "tokens": 1}]
        assert waiting["completed"] == ["Start_tasarim"] and waiting["flows"] == ["Flow_1"]
        assert waiting["open_tasks"][0]["bpmn_id"] == "Task_kayit" and waiting["version"] == 1

    def test_open_incidents_are_listed(self, db, cases):
        act(
            db,
            None,
            lambda s, a: incidents.record(
                s, a, cases[11], ProcessError("Betik hatası", details={"element_id": "Task_kayit"})
            ),
        )
        data = act(db, "idari1", lambda s, a: process_stats.instance_diagram(s, a, cases[11]))
        assert [(i["element_id"], i["message"]) for i in data["incidents"]] == [("Task_kayit", "Betik hatası")]

    def test_outsiders_cannot_see_it(self, db, cases):
        with pytest.raises(NotFound):
            act(db, "zabita.memur", lambda s, a: process_stats.instance_diagram(s, a, cases[11]))
