"""The inbox page: tabs with counts, claim/unclaim, sorting, filters (process, directorate, deadline
status, Turkish-folded text), saved filters, paging; never another user's work."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from factories import act, deploy, read, start
from sqlalchemy import event, select

from engine import clock, deadlines, people, search, tasks, worklist
from engine.models import HumanTask, SavedFilter

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday, 12:00 in Istanbul


def case(db, *, groups="idari_isler", due=None, priority=50, subject=None, key=None):
    """A one-task case of the coklu_grup process; returns its task id."""
    data = {"gruplar": groups, "son_tarih": due, "oncelik": priority}
    instance_id = start(db, "coklu_grup", username="admin", data=data, subject=subject, business_key=key)
    return read(db, lambda s: s.scalar(select(HumanTask.id).where(HumanTask.instance_id == instance_id)))


def row_ids(response):
    return [int(x) for x in re.findall(r'data-task-id="(\d+)"', response.get_data(as_text=True))]


def tab_counts(response):
    html = response.get_data(as_text=True)
    return {tab: int(n) for tab, n in re.findall(r'data-tab="(\w+)">[^<]*<span class="count">(\d+)</span>', html)}


@pytest.fixture
def frozen():
    with clock.frozen_at(NOW):
        yield


@pytest.fixture
def cases(db, frozen):
    deploy(db, "coklu_grup.bpmn")
    return db


def test_tabs_count_mine_group_and_deputy_work(cases, signed_in):
    first, second, third = (case(cases) for _ in range(3))
    other_unit = case(cases, groups="zabita")
    idari1 = signed_in("idari1")
    assert tab_counts(idari1.get("/")) == {"mine": 0, "group": 3, "deputy": 0}
    assert idari1.post(f"/tasks/{first}/claim").status_code == 302
    assert tab_counts(idari1.get("/")) == {"mine": 1, "group": 2, "deputy": 0}
    assert row_ids(idari1.get("/")) == [first]
    assert sorted(row_ids(idari1.get("/?tab=group"))) == sorted([second, third])
    assert other_unit not in row_ids(idari1.get("/?tab=group"))
    # sekreter1 stands in for idari1: sees their claimed task and their group's open tasks.
    act(
        cases,
        "admin",
        lambda s, a: people.add_substitution(
            s, a, "idari1", "sekreter1", NOW - timedelta(days=1), NOW + timedelta(days=5)
        ),
    )
    sekreter = signed_in("sekreter1")
    assert tab_counts(sekreter.get("/")) == {"mine": 0, "group": 0, "deputy": 3}
    assert sorted(row_ids(sekreter.get("/?tab=deputy"))) == sorted([first, second, third])


def test_a_user_outside_the_groups_sees_no_task_and_gets_404_on_claim(cases, signed_in):
    task_id = case(cases)
    zabita = signed_in("zabita.memur")
    assert tab_counts(zabita.get("/")) == {"mine": 0, "group": 0, "deputy": 0}
    assert zabita.post(f"/tasks/{task_id}/claim").status_code == 404
    assert read(cases, lambda s: s.get(HumanTask, task_id).assignee) is None


def test_claim_conflict_shows_a_message_and_changes_nothing(cases, signed_in):
    task_id = case(cases)
    idari1, idari2 = signed_in("idari1"), signed_in("idari2")
    idari1.post(f"/tasks/{task_id}/claim")
    response = idari2.post(f"/tasks/{task_id}/claim", {"next": "/?tab=group"}, follow_redirects=True)
    assert "idari1" in response.get_data(as_text=True) and "üstlenilmiş" in response.get_data(as_text=True)
    assert read(cases, lambda s: s.get(HumanTask, task_id).assignee) == "idari1"
    assert idari2.post(f"/tasks/{task_id}/unclaim").status_code == 302
    assert read(cases, lambda s: s.get(HumanTask, task_id).assignee) == "idari1"
    assert idari1.post(f"/tasks/{task_id}/unclaim").status_code == 302
    assert read(cases, lambda s: s.get(HumanTask, task_id).assignee) is None


def test_claim_without_csrf_token_is_refused(cases, signed_in):
    task_id = case(cases)
    idari1 = signed_in("idari1")
    assert idari1.client.post(f"/tasks/{task_id}/claim").status_code == 400
    assert read(cases, lambda s: s.get(HumanTask, task_id).assignee) is None


def test_sorting_by_due_date_and_by_priority(cases, signed_in):
    late = case(cases, due="2026-03-20", priority=90)
    soon = case(cases, due="2026-03-05", priority=10)
    undated = case(cases, due=None, priority=50)
    idari1 = signed_in("idari1")
    assert row_ids(idari1.get("/?tab=group")) == [soon, late, undated]
    assert row_ids(idari1.get("/?tab=group&sort=priority")) == [late, undated, soon]


def test_deadline_status_filter_and_colours(cases, signed_in):
    overdue = case(cases, due="2026-02-27")
    approaching = case(cases, due="2026-03-03")  # within 2 business days
    on_time = case(cases, due="2026-04-30")
    undated = case(cases)
    idari1 = signed_in("idari1")
    assert row_ids(idari1.get("/?tab=group&status=overdue")) == [overdue]
    assert row_ids(idari1.get("/?tab=group&status=approaching")) == [approaching]
    assert sorted(row_ids(idari1.get("/?tab=group&status=on_time"))) == sorted([on_time, undated])
    html = idari1.get("/?tab=group").get_data(as_text=True)
    assert f'class="row-overdue" data-task-id="{overdue}"' in html
    assert f'class="row-approaching" data-task-id="{approaching}"' in html
    assert "Süresi geçti" in html and "Süresi yaklaşıyor" in html


def test_half_of_the_time_passed_is_approaching_in_python_and_in_sql(cases, signed_in):
    task_id = case(cases, due="2026-04-01")
    idari1 = signed_in("idari1")
    assert row_ids(idari1.get("/?tab=group&status=on_time")) == [task_id]
    task = read(cases, lambda s: s.get(HumanTask, task_id))
    halfway = task.created_at + (task.due_at - task.created_at) / 2 + timedelta(minutes=1)
    with clock.frozen_at(halfway):
        assert worklist.status_of(task.created_at, task.due_at, worklist.thresholds()) == "approaching"
        assert row_ids(idari1.get("/?tab=group&status=approaching")) == [task_id]
        assert row_ids(idari1.get("/?tab=group&status=on_time")) == []


def test_search_folds_turkish_letters_the_turkish_way(cases, signed_in):
    lights = case(cases, subject="Sokak IŞIKLARI yanmıyor")
    istanbul = case(cases, subject="İstanbul caddesi", key="EVR-2026-77")
    idari1 = signed_in("idari1")
    assert row_ids(idari1.get("/?tab=group&q=ışıkları")) == [lights]
    assert row_ids(idari1.get("/?tab=group&q=IŞIK")) == [lights]
    assert row_ids(idari1.get("/?tab=group&q=isik")) == []  # i is not ı in Turkish
    assert row_ids(idari1.get("/?tab=group&q=istanbul")) == [istanbul]
    assert row_ids(idari1.get("/?tab=group&q=ISTANBUL")) == []  # I folds to ı, not i
    assert row_ids(idari1.get("/?tab=group&q=evr-2026")) == [istanbul]
    assert row_ids(idari1.get("/?tab=group&q=%25")) == []  # LIKE wildcards are literal


def test_process_and_directorate_filters(cases, signed_in):
    deploy(cases, "havale_test.bpmn", "kayit_formu.form.json")
    start(cases, "test_havale", username="idari1")
    mixed = case(cases, groups="idari_isler,fen_isleri")
    plain = case(cases)
    idari1 = signed_in("idari1")
    assert len(row_ids(idari1.get("/?tab=group"))) == 3
    assert sorted(row_ids(idari1.get("/?tab=group&process=coklu_grup"))) == sorted([mixed, plain])
    assert row_ids(idari1.get("/?tab=group&directorate=fen_isleri")) == [mixed]
    # A task offered to two of the user's groups is counted and listed once.
    ok_mudur = signed_in("ok.mudur")
    assert row_ids(ok_mudur.get("/?tab=group&process=coklu_grup")).count(mixed) == 1


def test_saved_filters_are_stored_per_user(cases, signed_in, db):
    idari1 = signed_in("idari1")
    response = idari1.post(
        "/filters", {"name": "Geciken işler", "tab": "group", "status": "overdue", "sort": "priority"}
    )
    assert response.status_code == 302
    saved = read(db, lambda s: s.scalars(select(SavedFilter)).one())
    assert saved.username == "idari1" and saved.params == {"tab": "group", "status": "overdue", "sort": "priority"}
    assert "Geciken işler" in idari1.get("/").get_data(as_text=True)
    applied = idari1.get(f"/?filter={saved.id}")
    assert applied.status_code == 302 and "status=overdue" in applied.headers["Location"]
    idari2 = signed_in("idari2")
    assert idari2.get(f"/?filter={saved.id}").status_code == 404
    assert idari2.post(f"/filters/{saved.id}/delete").status_code == 404
    assert idari1.post("/filters", {"name": "  "}, follow_redirects=True).status_code == 200
    assert read(db, lambda s: len(list(s.scalars(select(SavedFilter))))) == 1
    assert idari1.post(f"/filters/{saved.id}/delete").status_code == 302
    assert read(db, lambda s: s.scalars(select(SavedFilter)).all()) == []


def test_pages_of_the_inbox(cases, signed_in):
    ids = [case(cases, due=f"2026-04-{day:02d}") for day in range(1, 28)]
    idari1 = signed_in("idari1")
    first = idari1.get("/?tab=group")
    assert row_ids(first) == ids[:25]
    assert "Sayfa 1 / 2" in first.get_data(as_text=True)
    assert row_ids(idari1.get("/?tab=group&page=2")) == ids[25:]
    assert row_ids(idari1.get("/?tab=group&page=2&per_page=10")) == ids[10:20]


def test_inbox_engine_tabs_agree_with_the_engine_inbox(cases):
    for groups in ("idari_isler", "idari_isler,gerceklestirme_gorevlisi", "zabita"):
        case(cases, groups=groups)

    def both(s, a):
        page = worklist.page(s, a, worklist.Query(tab=worklist.Tab.GROUP))
        return sorted(r.task.id for r in page.rows), sorted(t.id for t in tasks.inbox(s, a).items)

    mine, engine_inbox = act(cases, "idari1", both)
    assert mine == engine_inbox and len(mine) == 2


def test_fold_tr_is_turkish_lower_case():
    assert search.fold_tr("İSTANBUL IŞIK ÇĞÖŞÜ") == "istanbul ışık çğöşü"
    assert search.contains_pattern(" 100%_ ") == "%100\\%\\_%"


def row_html(response, task_id):
    html = response.get_data(as_text=True)
    found = re.search(rf'data-task-id="{task_id}">(.*?)</tr>', html, re.S)
    assert found, f"no row of task {task_id}"
    return found.group(1)


def test_a_row_shows_the_highest_escalation_step_applied_to_its_task(cases, signed_in):
    soon = case(cases, due="2026-03-20")
    later = case(cases, due="2026-04-30")
    task = read(cases, lambda s: s.get(HumanTask, soon))
    ladder = {
        s.name: s.at
        for s in deadlines.task_ladder(deadlines.DEFAULT_POLICY, task.created_at, task.due_at, intake=False)
    }
    idari1 = signed_in("idari1")
    deadlines.run(cases, NOW)  # the tasks are watched; no step is due yet
    deadlines.run(cases, ladder["yuzde_50"] - timedelta(minutes=1))
    assert "data-escalation" not in idari1.get("/?tab=group").get_data(as_text=True)

    deadlines.run(cases, ladder["yuzde_50"])
    page = idari1.get("/?tab=group")
    row = row_html(page, soon)
    assert 'data-escalation="yuzde_50"' in row and "%50 uyarısı" in row
    # Explained in a tooltip and in text for screen readers, not by colour alone.
    assert 'title="Geçen süre %50: işi yapana hatırlatıldı.' in row
    assert '<span class="visually-hidden"> — Geçen süre %50' in row
    assert "data-escalation" not in row_html(page, later)

    # At the red instant the 75 % step is superseded (never sent) and the red one applied: the
    # badge shows the highest step applied.
    deadlines.run(cases, ladder["son_2_gun"])
    row = row_html(idari1.get("/?tab=group"), soon)
    assert 'data-escalation="son_2_gun"' in row and "Son 2 gün" in row and "%50 uyarısı" not in row
    deadlines.run(cases, ladder["gecikti"])
    row = row_html(idari1.get("/?tab=group"), soon)
    assert 'data-escalation="gecikti"' in row and "Gecikme bildirildi" in row
    # The task page lists every step applied, oldest first, each explained in words.
    shown = idari1.get(f"/tasks/{soon}").get_data(as_text=True)
    assert re.findall(r'data-escalation="(\w+:\w+)"', shown) == ["task:yuzde_50", "task:son_2_gun", "task:gecikti"]
    assert "Süre uyarıları" in shown and "Son tarih geçti: iş açık ve gecikmiş olarak işaretlendi" in shown
    assert "data-escalation" not in idari1.get(f"/tasks/{later}").get_data(as_text=True)


def test_escalation_badges_are_read_with_one_query_for_the_page(cases):
    ids = [case(cases, due="2026-03-10") for _ in range(3)]
    task = read(cases, lambda s: s.get(HumanTask, ids[0]))
    deadlines.run(cases, NOW)
    deadlines.run(cases, task.due_at)
    statements: list[str] = []

    def count(_conn, _cursor, statement, *_args):
        statements.append(statement)

    def inbox_page(s):
        return worklist.page(s, people.actor_for(s, "idari1"), worklist.Query(tab=worklist.Tab.GROUP))

    event.listen(cases.read_engine, "before_cursor_execute", count)
    try:
        page = read(cases, inbox_page)
    finally:
        event.remove(cases.read_engine, "before_cursor_execute", count)
    assert {r.task.id: r.escalation.step for r in page.rows} == dict.fromkeys(ids, "gecikti")
    assert len([s for s in statements if "deadline_step" in s]) == 1
