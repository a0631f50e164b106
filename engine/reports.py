"""The annual 4982 report to the Bilgi Edinme Değerlendirme Kurulu (Kanun m.30, Yönetmelik m.44): the
bilgi edinme applications of one calendar year (Europe/Istanbul) counted by outcome, refusals and partial
grants by the article of law they cite, and objections to the Kurul with their results.

Counts only: no applicant data leaves this module. The outcome lives in each case's data, which is part
of the serialized workflow (not a column), so it cannot be read in SQL: F4 cases are read in id order,
``BATCH`` rows at a time and only the columns needed, and nothing of a case is kept once counted, so
memory stays flat with any number of instances. Only F4 cases count: F1–F3 hand a 4982 request over by
closing with ``sonuc = 'bilgi_edinmeye_aktarildi'`` and the unit registers it as an F4 case (channel
``cimer`` etc.), so counting those too would count the request twice.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import IO, Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

import forms
from engine import advance, clock, process_stats
from engine.actors import Actor
from engine.errors import InvalidInput, NotAllowed
from engine.i18n import LazyText, _
from engine.models import FormDefinitionVersion, InstanceStatus, ProcessDefinition, ProcessInstance
from engine.runtime.workflow import Runner

F4_KEY = "f4_bilgi_edinme"
DECISION_FORM = "f4_karar"
ARTICLE_FIELD = "ret_dayanagi"
# The managers of the bilgi edinme unit send the report, whether or not they may see other statistics.
REPORT_UNIT = "bilgi_edinme_birimi"
FIRST_YEAR = 2004  # 4982 came into force on 24 April 2004
BATCH = 200
ISTANBUL = ZoneInfo("Europe/Istanbul")
# A case is opened when the application is in hand, so its application date (checked not-future when
# registered) is rarely after the case's start: a registration form finished some days after it was
# opened is the exception this margin covers. A registration more than a year late is not looked for.
EARLY_START = timedelta(days=31)
LATE_REGISTRATION = timedelta(days=366)

# ``sonuc`` once the answer went out (``karar_sonucu`` is set then) → report line.
ANSWERED = {
    "olumlu": "granted",
    "kismen_olumlu": "partially_granted",
    "olumsuz": "refused",
    "yayimlanmis_bilgi_yonlendirildi": "published",
}
# ``sonuc`` set on the step that also closes the case → report line.
CLOSED = {
    "baska_kuruma_gonderildi": "referred",
    "isleme_konulmadi": "not_processed",
    "vazgecilmis_sayildi": "withdrawn",
    "geri_cekildi": "withdrawn_by_applicant",
}
# ``itiraz_sonucu`` once the Kurul's decision (message ``kurul_karari``) arrived → report line.
OBJECTION_RESULTS = {
    "erisim_verilsin": "objection_granted",
    "kismen_erisim_verilsin": "objection_partially_granted",
    "itiraz_reddedildi": "objection_rejected",
}

OUTCOME_LABELS: dict[str, LazyText] = {
    "granted": _("Olumlu cevaplanan (bilgi veya belge verilen)"),
    "partially_granted": _("Kısmen olumlu cevaplanan"),
    "refused": _("Reddedilen"),
    "published": _("Yayımlanmış bilgiye yönlendirilen (m.8)"),
    "referred": _("Başka kuruma gönderilen (m.10)"),
    "not_processed": _("İşleme konulmayan (şekil eksikliği, Yönetmelik m.14)"),
    "withdrawn": _("Vazgeçilmiş sayılan (ücret ödenmedi)"),
    "withdrawn_by_applicant": _("Başvuru sahibince geri çekilen"),
    "other": _("Diğer sonuçlar"),
    "pending": _("Yıl sonunda sonuçlanmamış (devam eden)"),
}
OBJECTION_LABELS: dict[str, LazyText] = {
    "objections": _("Kurula itiraz (Kurul kararı kaydedilen)"),
    "objection_granted": _("Kurul erişim verilmesine karar verdi"),
    "objection_partially_granted": _("Kurul kısmen erişim verilmesine karar verdi"),
    "objection_rejected": _("Kurul itirazı reddetti"),
    "objection_other": _("Kurul kararı belirtilmemiş ya da başka"),
}
SECTION_TITLES: dict[str, LazyText] = {
    "applications": _("Başvurular ve sonuçları"),
    "refusal_articles": _("Reddedilen başvuruların dayanakları"),
    "partial_articles": _("Kısmen olumlu kararların dayanakları"),
    "objections": _("Bilgi Edinme Değerlendirme Kuruluna itirazlar"),
    "excluded": _("Rapora alınmayanlar"),
}
NOTES: tuple[LazyText, ...] = (
    _("Bir ret kararı birden çok maddeye dayanabilir; madde sayılarının toplamı ret sayısını aşabilir."),
    _("Sonuç, yıl bitmeden cevap gönderilmiş ya da dosya kapanmışsa sayılır; öteki başvurular devam eden sayılır."),
    _("İtirazlar, Kurul kararı kaydedilenlerdir ve raporun hazırlandığı andaki kayıtlara göre sayılır."),
    _(
        "Yalnız bilgi edinme dosyaları sayılır: dilekçe, CİMER ve HİM dosyalarından bilgi edinmeye aktarılan "
        "başvurular, bilgi edinme dosyası olarak kaydedildiklerinde sayılır."
    ),
)
INTERIM_NOTE = _("Yıl henüz bitmedi: bu bir ara rapordur.")
TOTAL_LABEL = _("Toplam başvuru")
TERMINATED_LABEL = _("Sonlandırılan (iptal edilen) kayıtlar")


def may_see_bedk_report(actor: Actor) -> bool:
    """Whether the actor may take the BEDK report: whoever may see statistics, and the bilgi edinme
    unit's managers."""
    return process_stats.may_see_stats(actor) or REPORT_UNIT in actor.manages


def require_can_see_bedk_report(actor: Actor) -> None:
    """Raises NotAllowed unless ``may_see_bedk_report``."""
    if not may_see_bedk_report(actor):
        raise NotAllowed(
            _("BEDK raporunu yalnız istatistik görebilenler ve Bilgi Edinme Birimi yöneticileri alabilir.")
        )


@dataclass(frozen=True)
class ArticleCount:
    code: str
    label: str
    refused: int
    partially_granted: int


@dataclass(frozen=True)
class ReportLine:
    """One line of the exported table: its section and code are stable, its label is translated."""

    section: str
    code: str
    label: str
    count: int


@dataclass(frozen=True)
class BedkReport:
    """The counts of one year. ``applications`` is the sum of the outcome lines (``pending`` included);
    refusal articles may add up to more than ``refused`` (a decision may cite several articles);
    objections are those whose Kurul decision is recorded, as of ``generated_at``."""

    year: int
    generated_at: datetime
    year_complete: bool
    applications: int
    outcomes: dict[str, int]
    articles: list[ArticleCount]
    objections: dict[str, int]
    terminated: int

    def lines(self) -> list[ReportLine]:
        """The report as one table (section, code, label, count) for the text, CSV and XLSX forms."""
        rows = [ReportLine("applications", "total", str(TOTAL_LABEL), self.applications)]
        rows += [
            ReportLine("applications", code, str(OUTCOME_LABELS[code]), n)
            for code, n in self.outcomes.items()
            if code != "other" or n
        ]
        rows += [ReportLine("refusal_articles", a.code, a.label, a.refused) for a in self.articles]
        rows += [ReportLine("partial_articles", a.code, a.label, a.partially_granted) for a in self.articles]
        rows += [ReportLine("objections", code, str(OBJECTION_LABELS[code]), n) for code, n in self.objections.items()]
        rows.append(ReportLine("excluded", "terminated", str(TERMINATED_LABEL), self.terminated))
        return rows


@dataclass
class _Tally:
    outcomes: Counter[str] = field(default_factory=Counter)
    refused_articles: Counter[str] = field(default_factory=Counter)
    partial_articles: Counter[str] = field(default_factory=Counter)
    objections: Counter[str] = field(default_factory=Counter)
    terminated: int = 0


@dataclass(frozen=True)
class _Case:
    id: int
    definition_id: int
    status: str
    started_at: datetime
    ended_at: datetime | None
    state: str
    state_version: str


def selectable_years() -> list[int]:
    """The years a report may be taken for, newest first."""
    return list(range(clock.now().astimezone(ISTANBUL).year, FIRST_YEAR - 1, -1))


def last_year() -> int:
    """The year a report is due for now (the previous calendar year in Istanbul)."""
    return clock.now().astimezone(ISTANBUL).year - 1


def bedk_report(session: Session, actor: Actor, year: int, *, batch: int = BATCH) -> BedkReport:
    """Count the bilgi edinme applications whose application date (``basvuru_tarihi``; the case's start
    day while it is not registered yet) falls in ``year``. An outcome counts when it was reached before
    the year ended (the answer sent, the case referred, not processed, deemed or actually withdrawn); every other
    application is pending at year end. Terminated cases are left out and only counted apart.

    Raises NotAllowed, InvalidInput (a year before 4982 or in the future)."""
    require_can_see_bedk_report(actor)
    now = clock.now()
    _check_year(year, now)
    year_start = datetime(year, 1, 1, tzinfo=ISTANBUL)
    year_end = datetime(year + 1, 1, 1, tzinfo=ISTANBUL)
    tally = _Tally()
    runners = _Runners(session)
    last_id = 0
    while True:
        cases = [
            _Case(*row)
            for row in session.execute(
                select(
                    ProcessInstance.id,
                    ProcessInstance.definition_id,
                    ProcessInstance.status,
                    ProcessInstance.started_at,
                    ProcessInstance.ended_at,
                    ProcessInstance.state,
                    ProcessInstance.state_version,
                )
                .where(
                    ProcessInstance.process_key == F4_KEY,
                    ProcessInstance.started_at >= year_start - EARLY_START,
                    ProcessInstance.started_at < year_end + LATE_REGISTRATION,
                    ProcessInstance.id > last_id,
                )
                .order_by(ProcessInstance.id)
                .limit(batch)
            )
        ]
        if not cases:
            break
        for case in cases:
            data = runners.data(case)
            if _application_day(data, case.started_at).year == year:
                _count(tally, case, data, year_end)
        last_id = cases[-1].id
    return _report(session, year, now, year_end, tally)


def _check_year(year: int, now: datetime) -> None:
    this_year = now.astimezone(ISTANBUL).year
    if not FIRST_YEAR <= year <= this_year:
        message = _("Yıl {first} ile {last} arasında olmalı.", first=FIRST_YEAR, last=this_year)
        raise InvalidInput(message, field_errors={"year": [str(message)]})


class _Runners:
    """Loads a case's workflow to read its data; the (few) definitions are looked up once each."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.definitions: dict[int, ProcessDefinition] = {}

    def data(self, case: _Case) -> dict[str, Any]:
        if not case.state:
            return {}
        definition = self.definitions.get(case.definition_id)
        if definition is None:
            definition = self.session.get_one(ProcessDefinition, case.definition_id)
            self.definitions[case.definition_id] = definition
        spec, subprocess_specs = advance.specs_for(definition)
        runner = Runner.load(case.state, case.state_version, spec, subprocess_specs, **advance.runner_options())
        return runner.data()


def _count(tally: _Tally, case: _Case, data: Mapping[str, Any], year_end: datetime) -> None:
    if case.status == InstanceStatus.TERMINATED:
        tally.terminated += 1
        return
    outcome, decided_at = _outcome(case, data)
    if outcome is None or (decided_at is not None and decided_at >= year_end):
        outcome = "pending"
    tally.outcomes[outcome] += 1
    if outcome in ("refused", "partially_granted"):
        articles = tally.refused_articles if outcome == "refused" else tally.partial_articles
        articles.update({str(code) for code in _as_list(data.get(ARTICLE_FIELD))})
    decision = data.get("kurul_karari")
    # Script_baslat sets it to None; the Kurul's message replaces it with its payload (a dict).
    if isinstance(decision, dict) or decision:
        tally.objections["objections"] += 1
        result = OBJECTION_RESULTS.get(str(data.get("itiraz_sonucu") or ""), "objection_other")
        tally.objections[result] += 1


def _outcome(case: _Case, data: Mapping[str, Any]) -> tuple[str | None, datetime | None]:
    """The report line of a case and when it was reached (None: not reached, or not known when)."""
    result = str(data.get("sonuc") or "")
    if result in ANSWERED and "karar_sonucu" in data:
        return ANSWERED[result], _instant(data.get("gonderim_tarihi")) or case.ended_at
    if result in CLOSED:
        return CLOSED[result], case.ended_at
    if case.status == InstanceStatus.COMPLETED:
        return "other", case.ended_at
    return None, None


def _application_day(data: Mapping[str, Any], started_at: datetime) -> date:
    value = data.get("basvuru_tarihi")
    if isinstance(value, datetime):
        return value.astimezone(ISTANBUL).date() if value.tzinfo else value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value[:10])
        except ValueError:
            pass
    return started_at.astimezone(ISTANBUL).date()


def _instant(value: Any) -> datetime | None:
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return None
    if not isinstance(value, datetime):
        return None
    return value if value.tzinfo else value.replace(tzinfo=ISTANBUL)


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple | set | frozenset) else [value]


def _report(session: Session, year: int, now: datetime, year_end: datetime, tally: _Tally) -> BedkReport:
    outcomes = {code: tally.outcomes[code] for code in OUTCOME_LABELS}
    labels = _article_labels(session)
    used = set(tally.refused_articles) | set(tally.partial_articles)
    codes = list(labels) + sorted(used - set(labels))
    articles = [
        ArticleCount(code, labels.get(code, code), tally.refused_articles[code], tally.partial_articles[code])
        for code in codes
    ]
    return BedkReport(
        year=year,
        generated_at=now,
        year_complete=now >= year_end,
        applications=sum(outcomes.values()),
        outcomes=outcomes,
        articles=articles,
        objections={code: tally.objections[code] for code in OBJECTION_LABELS},
        terminated=tally.terminated,
    )


def _article_labels(session: Session) -> dict[str, str]:
    """The articles the decision form of the latest F4 version offers, in its order, with their labels."""
    definition = session.scalar(
        select(ProcessDefinition)
        .where(ProcessDefinition.key == F4_KEY)
        .order_by(ProcessDefinition.version.desc())
        .limit(1)
    )
    binding = (definition.form_bindings or {}).get(DECISION_FORM) if definition is not None else None
    if not isinstance(binding, dict):
        return {}
    row = session.get(FormDefinitionVersion, int(binding["id"]))
    if row is None:
        return {}
    article_field = forms.parse_definition(row.source, source=row.file_name).field(ARTICLE_FIELD)
    if article_field is None:
        return {}
    return {str(c["value"]): str(c["label"]) for c in article_field.to_dict()["choices"]}


# --- exports ----------------------------------------------------------------------------------------

EXPORT_HEADER = (_("Bölüm"), _("Kod"), _("Açıklama"), _("Sayı"))


def _header() -> list[str]:
    return [str(h) for h in EXPORT_HEADER]


def to_csv(report: BedkReport) -> str:
    """The report as CSV (section, code, label, count) with a UTF-8 BOM for spreadsheet programs."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(_header())
    for line in report.lines():
        writer.writerow([line.section, line.code, line.label, line.count])
    return "\ufeff" + buffer.getvalue()


def write_xlsx(report: BedkReport, out: IO[bytes]) -> None:
    """The report as an XLSX workbook, the same table as the CSV."""
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    sheet.title = f"BEDK {report.year}"
    sheet.append(_header())
    for line in report.lines():
        sheet.append([line.section, line.code, line.label, line.count])
    sheet.freeze_panes = "A2"
    sheet.column_dimensions["C"].width = 70
    workbook.save(out)


def export_filename(year: int, fmt: str) -> str:
    return f"bedk-bilgi-edinme-raporu-{year}.{fmt}"
