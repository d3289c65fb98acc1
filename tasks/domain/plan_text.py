"""Plain-text views of a plan for the coordinator's terminal: `rcoi plan show` and `plan check`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tasks.domain.plan import Plan, PlanProblem, ResolvedStage, Severity

__all__ = ["format_instant", "format_problems", "format_schedule", "located_problem"]

KIND_NAMES = {
    "window": "период",
    "exact": "точно в",
    "not_before": "не ранее",
    "deadline": "срок",
    "month": "месяц",
    "months": "месяцы",
    "recurring": "регулярно",
    "external": "внешний",
}
SEVERITY_NAMES = {Severity.ERROR: "ОШИБКА", Severity.WARNING: "ВНИМАНИЕ", Severity.INFO: "заметка"}


def format_instant(moment: datetime | None, *, end: bool = False) -> str:
    """'06.12.2017 09:45'; an end at midnight is shown as 24:00 of the day before."""
    if moment is None:
        return "—"
    if end and (moment.hour, moment.minute, moment.second) == (0, 0, 0):
        day = moment - timedelta(days=1)
        return f"{day:%d.%m.%Y} 24:00"
    return f"{moment:%d.%m.%Y %H:%M}"


def _utc(moment: datetime | None) -> datetime | None:
    return moment.astimezone(UTC) if moment else None


def format_schedule(plan: Plan, sessions: dict[str | None, list[ResolvedStage]]) -> str:
    """Every stage of every session with its local time and UTC, one line each plus its title."""
    lines = [
        f"План: {plan.id} — {plan.title}",
        f"Процедура {plan.procedure}, {plan.school_year} уч. год; регион {plan.region.code} "
        f"{plan.region.name}; часовой пояс {plan.region.timezone or 'НЕ УКАЗАН'}",
    ]
    header = (
        f"{'№':>6}  {'этап':<22} {'вид':<9} {'начало (местное)':<17} {'начало (UTC)':<17} "
        f"{'окончание (местное)':<19} {'окончание (UTC)':<17} пояс"
    )
    for session_id, stages in sessions.items():
        lines.append("")
        if session_id is not None:
            session = plan.session(session_id)
            label = f" ({session.label})" if session.label else ""
            if plan.year_session is not None and session.id == plan.year_session.id:
                lines.append(f"Срок {session.id}{label}: строки, не зависящие от дня экзамена")
            else:
                day = f"день экзамена {session.exam_date:%d.%m.%Y}"
                lines.append(f"Срок {session.id}{label}, {day}")
        lines.append(header)
        for stage in stages:
            kind = KIND_NAMES.get(stage.kind, stage.kind) + ("?" if stage.ambiguous else "")
            lines.append(
                f"{stage.row or '':>6}  {stage.stage_id:<22} {kind:<9} "
                f"{format_instant(stage.start):<17} {format_instant(_utc(stage.start)):<17} "
                f"{format_instant(stage.end, end=True):<19} "
                f"{format_instant(_utc(stage.end), end=True):<17} {stage.zone}"
            )
            lines.append(f"{'':>8}{stage.title}")
            if stage.kind == "months":
                periods = "; ".join(
                    f"{format_instant(start)} – {format_instant(due, end=True)}"
                    for start, due in stage.windows()
                )
                lines.append(f"{'':>8}периоды: {periods}")
            elif stage.occurrences:
                dates = ", ".join(f"{moment:%d.%m.%Y}" for moment in stage.occurrences)
                lines.append(f"{'':>8}даты: {dates}")
            if stage.unresolved:
                lines.append(
                    f"{'':>8}сроки заданы ссылкой на внешний график и не переведены в даты"
                )
    return "\n".join(lines)


def located_problem(problem: PlanProblem) -> str:
    """«[nonexistent-time] этап publish, срок 2011-03-27: …»"""
    where = ", ".join(
        part
        for part in (
            f"этап {problem.stage_id}" if problem.stage_id else "",
            f"срок {problem.session_id}" if problem.session_id else "",
        )
        if part
    )
    return f"[{problem.code}] {where + ': ' if where else ''}{problem.message}"


def format_problems(problems: list[PlanProblem]) -> str:
    if not problems:
        return "Проблем не найдено."
    lines = [
        f"{SEVERITY_NAMES[problem.severity]} {located_problem(problem)}" for problem in problems
    ]
    counts = {severity: sum(p.severity is severity for p in problems) for severity in Severity}
    lines.append(
        f"Итого: ошибок {counts[Severity.ERROR]}, предупреждений "
        f"{counts[Severity.WARNING]}, заметок {counts[Severity.INFO]}."
    )
    return "\n".join(lines)
