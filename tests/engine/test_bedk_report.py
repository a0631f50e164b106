"""The annual 4982 report to BEDK: F4 cases driven through the real flow (``flows/bedk_cases.py``) are
counted by application year and outcome, refusals by article, objections by the Kurul's decision."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime

import pytest
from factories import act, read
from flows.bedk_cases import APPLICANT, EXPECTED_2025, EXPECTED_2026, REPORT_AT, build
from openpyxl import load_workbook
from sqlalchemy import event

from engine import clock, reports
from engine.actors import Actor
from engine.errors import InvalidInput, NotAllowed


@pytest.fixture
def cases(db):
    return build(db)


def report(db, year: int, username: str = "ok.mudur", when=REPORT_AT, **kwargs):
    with clock.frozen_at(when):
        return act(db, username, lambda s, a: reports.bedk_report(s, a, year, **kwargs))


def summary(r: reports.BedkReport) -> dict:
    return {
        "applications": r.applications,
        "outcomes": r.outcomes,
        "refused_articles": {a.code: a.refused for a in r.articles if a.refused},
        "partial_articles": {a.code: a.partially_granted for a in r.articles if a.partially_granted},
        "objections": r.objections,
        "terminated": r.terminated,
    }


def test_counts_every_outcome_of_the_year_by_application_date(db, cases):
    r = report(db, 2026)
    assert summary(r) == EXPECTED_2026
    assert r.year == 2026 and r.year_complete is True
    assert r.applications == sum(r.outcomes.values())


def test_reads_the_cases_in_small_batches_with_the_same_result(db, cases):
    assert summary(report(db, 2026, batch=2)) == EXPECTED_2026


def test_loads_no_case_as_an_object(db, cases):
    def run(session):
        loaded = []
        event.listen(session, "loaded_as_persistent", lambda _s, obj: loaded.append(type(obj).__name__))
        with clock.frozen_at(REPORT_AT):
            reports.bedk_report(session, Actor.system(), 2026, batch=4)
        return loaded

    # The F4 version and its decision form only; the cases are read as plain rows, a batch at a time.
    assert set(read(db, run)) == {"FormDefinitionVersion", "ProcessDefinition"}


def test_the_previous_year_counts_its_own_applications_including_a_back_dated_one(db, cases):
    r = report(db, 2025)
    assert r.applications == EXPECTED_2025["applications"]
    assert r.outcomes["not_processed"] == EXPECTED_2025["not_processed"]
    assert r.outcomes["pending"] == EXPECTED_2025["pending"]
    assert sum(r.outcomes.values()) == r.applications and r.terminated == 0
    assert report(db, 2024).applications == 0


def test_the_current_year_gives_an_interim_report(db, cases):
    r = report(db, 2027)
    assert (r.year_complete, r.applications, r.terminated) == (False, 0, 0)
    assert r.generated_at == REPORT_AT


def test_articles_come_in_the_order_and_wording_of_the_refusal_form(db, cases):
    articles = report(db, 2026).articles
    assert [a.code for a in articles][:3] == ["m7_2", "m9", "m15"]
    m21 = next(a for a in articles if a.code == "m21")
    assert (m21.label, m21.refused, m21.partially_granted) == ("m.21 – Özel hayatın gizliliği", 1, 1)
    assert articles[-1].code == "yon_m12_tekemmul"


def test_exports_hold_the_same_counts_and_no_personal_data(db, cases):
    r = report(db, 2026)
    text = reports.to_csv(r)
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    assert rows[0] == ["Bölüm", "Kod", "Açıklama", "Sayı"]
    table = {(section, code): int(n) for section, code, _label, n in rows[1:]}
    assert table[("applications", "total")] == EXPECTED_2026["applications"]
    assert table[("applications", "pending")] == 5
    assert table[("refusal_articles", "m21")] == 1 and table[("partial_articles", "m23")] == 2
    assert table[("objections", "objection_rejected")] == 1
    assert table[("excluded", "terminated")] == 1
    assert ("applications", "other") not in table  # shown only when some case has an unknown outcome
    assert APPLICANT not in text and "BE-" not in text
    out = io.BytesIO()
    reports.write_xlsx(r, out)
    sheet = load_workbook(io.BytesIO(out.getvalue())).active
    assert sheet.title == "BEDK 2026"
    assert [list(row) for row in sheet.iter_rows(values_only=True)] == [
        [section, code, label, int(n)] if i else [section, code, label, n]
        for i, (section, code, label, n) in enumerate(rows)
    ]


@pytest.mark.parametrize("username", ["hi1", "fenisleri.memur", "sekreter1"])
def test_only_statistics_viewers_and_the_units_managers_may_take_it(db, username):
    with pytest.raises(NotAllowed):
        report(db, 2026, username)


@pytest.mark.parametrize("username", ["ok.mudur", "denetci1", "baskan", "admin"])
def test_managers_auditors_and_the_mayor_may_take_it(db, username):
    assert report(db, 2026, username).applications == 0


@pytest.mark.parametrize("year", [2003, 2028])
def test_a_year_before_4982_or_in_the_future_is_refused(db, year):
    with pytest.raises(InvalidInput) as err:
        report(db, year)
    assert "year" in err.value.field_errors


class TestClassification:
    """The rules on one case's data, for states the shipped flow does not produce today."""

    YEAR_END = datetime(2027, 1, 1, tzinfo=reports.ISTANBUL)

    def case(self, status: str, ended_at: datetime | None = None) -> reports._Case:
        return reports._Case(1, 1, status, datetime(2026, 5, 15, 6, tzinfo=UTC), ended_at, "", "")

    def test_a_closed_case_with_an_unknown_result_counts_as_other_when_it_closed_in_the_year(self):
        closed = self.case("completed", datetime(2026, 6, 1, tzinfo=UTC))
        assert reports._outcome(closed, {"sonuc": "yeni_bir_sonuc"}) == ("other", closed.ended_at)
        assert reports._outcome(self.case("running"), {"sonuc": "yeni_bir_sonuc"}) == (None, None)

    def test_an_answer_counts_from_when_it_was_sent(self):
        data = {"sonuc": "olumlu", "karar_sonucu": "olumlu", "gonderim_tarihi": "2026-12-31T23:30"}
        outcome, when = reports._outcome(self.case("completed"), data)
        assert outcome == "granted" and when < self.YEAR_END
        assert reports._outcome(self.case("running"), {"sonuc": "olumlu"}) == (None, None)

    def test_the_application_day_is_the_istanbul_day(self):
        started = datetime(2026, 12, 31, 22, tzinfo=UTC)  # 1 January 2027, 01:00 in Istanbul
        assert reports._application_day({}, started) == date(2027, 1, 1)
        assert reports._application_day({"basvuru_tarihi": "2026-12-31"}, started) == date(2026, 12, 31)
        late_evening = datetime(2026, 12, 31, 22, tzinfo=UTC)
        assert reports._application_day({"basvuru_tarihi": late_evening}, started) == date(2027, 1, 1)
