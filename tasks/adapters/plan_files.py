"""Read plan-schedules and production calendars from YAML files."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from config import CALENDARS_DIR, PLANS_DIR
from tasks.domain.calendar import ProductionCalendar
from tasks.domain.plan import Plan, PlanProblem, Severity, check_plan
from tasks.errors import ConfigError, PlanError

__all__ = [
    "PlanReport",
    "inspect_plan",
    "load_calendar",
    "load_plan",
    "plan_zone",
    "resolve_plan_path",
]


class _PlainLoader(yaml.SafeLoader):
    """Safe YAML without timestamp guessing: dates stay text and pydantic parses them, so a
    session id like 2017-12-06 stays a string and a bad date gets a schema message."""


_PlainLoader.yaml_implicit_resolvers = {
    key: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
# YAML 1.1 reads an unquoted `time: 10:00` as the base-60 integer 600, which pydantic then takes
# for 00:10:00. Times of day stay text as well: the first resolver that matches wins.
_TIME_OF_DAY = re.compile(r"^[0-9]{1,2}(?::[0-5][0-9]){1,2}$")
for _digit in "0123456789":
    _PlainLoader.yaml_implicit_resolvers[_digit].insert(0, ("tag:yaml.org,2002:str", _TIME_OF_DAY))


def _read_yaml(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise PlanError(f"нет файла {path}") from exc
    except UnicodeDecodeError as exc:
        raise PlanError(f"файл {path} не в кодировке UTF-8") from exc
    except OSError as exc:
        raise PlanError(f"файл {path} не читается: {exc.strerror or exc}") from exc
    try:
        return yaml.load(text, Loader=_PlainLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (строка {mark.line + 1}, столбец {mark.column + 1})" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise PlanError(f"{path}: ошибка синтаксиса YAML{where}: {problem}") from exc


# Pydantic's messages by error type, as the coordinator reads them in `rcoi plan check`.
_SCHEMA_MESSAGES = {
    "missing": "нет обязательного поля",
    "extra_forbidden": "лишнее поле (нет в схеме плана)",
    "string_type": "ожидается строка",
    "int_type": "ожидается целое число",
    "int_parsing": "ожидается целое число",
    "int_from_float": "ожидается целое число",
    "float_type": "ожидается число",
    "float_parsing": "ожидается число",
    "bool_type": "ожидается true или false",
    "bool_parsing": "ожидается true или false",
    "list_type": "ожидается список",
    "dict_type": "ожидается словарь",
    "model_type": "ожидается словарь",
    "model_attributes_type": "ожидается словарь",
    "date_type": "ожидается дата ГГГГ-ММ-ДД",
    "date_parsing": "ожидается дата ГГГГ-ММ-ДД",
    "date_from_datetime_parsing": "ожидается дата ГГГГ-ММ-ДД",
    "date_from_datetime_inexact": "ожидается дата ГГГГ-ММ-ДД без времени",
    "time_type": "ожидается время ЧЧ:ММ",
    "time_parsing": "ожидается время ЧЧ:ММ",
    "union_tag_not_found": "не указан вид (kind)",
}


def _schema_item(item: Any) -> str:
    kind, context = item["type"], item.get("ctx") or {}
    if kind in _SCHEMA_MESSAGES:
        return _SCHEMA_MESSAGES[kind]
    if kind == "literal_error":
        return f"недопустимое значение {item.get('input')!r}: ожидается {context.get('expected')}"
    if kind == "union_tag_invalid":
        return f"неизвестный вид {context.get('tag')!r}: ожидается {context.get('expected_tags')}"
    if kind == "string_pattern_mismatch":
        return f"значение {item.get('input')!r} не подходит под шаблон {context.get('pattern')}"
    if kind in ("greater_than_equal", "greater_than", "less_than_equal", "less_than"):
        sign = {"greater_than_equal": "≥", "greater_than": ">", "less_than_equal": "≤"}
        bound = next(iter(context.values()), "")
        return f"значение должно быть {sign.get(kind, '<')} {bound}"
    if kind == "value_error":  # the plan model's own rules, written in Russian
        return str(context.get("error") or item["msg"])
    return str(item["msg"])


def _schema_message(error: ValidationError) -> str:
    lines = []
    for item in error.errors():
        where = ".".join(str(part) for part in item["loc"])
        lines.append(f"{where or 'план'}: {_schema_item(item)}")
    return "; ".join(lines)


def load_plan(path: Path) -> Plan:
    """The plan in `path`, validated against the schema; PlanError says what is wrong."""
    data = _read_yaml(path)
    try:
        return Plan.model_validate(data)
    except ValidationError as exc:
        raise PlanError(f"{path}: не по схеме плана: {_schema_message(exc)}") from exc


def load_calendar(name: str = "ru", directory: Path = CALENDARS_DIR) -> ProductionCalendar:
    path = directory / f"{name}.yaml"
    try:
        data = _read_yaml(path)
        years = data["years"]
        return ProductionCalendar(
            name=str(data["name"]),
            years=frozenset(int(year) for year in years),
            holidays=frozenset(
                date.fromisoformat(str(d)) for y in years.values() for d in y.get("holidays") or []
            ),
            workdays=frozenset(
                date.fromisoformat(str(d)) for y in years.values() for d in y.get("workdays") or []
            ),
        )
    except (PlanError, KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ConfigError(f"производственный календарь {path} не читается: {exc}") from exc


@dataclass(frozen=True, slots=True)
class PlanReport:
    path: Path
    plan: Plan | None
    problems: list[PlanProblem]

    @property
    def ok(self) -> bool:
        return not any(problem.severity is Severity.ERROR for problem in self.problems)


def inspect_plan(path: Path) -> PlanReport:
    """Load and check a plan; unreadable files and schema errors become problems, not crashes."""
    try:
        plan = load_plan(path)
    except PlanError as exc:
        return PlanReport(path, None, [PlanProblem(Severity.ERROR, "unreadable", str(exc))])
    try:
        calendar: ProductionCalendar | None = load_calendar(plan.calendar)
    except ConfigError as exc:
        calendar = None
        extra = [PlanProblem(Severity.WARNING, "no-calendar", str(exc))]
    else:
        extra = []
    return PlanReport(path, plan, extra + check_plan(plan, calendar))


def plan_zone(name_or_path: str) -> str | None:
    """The region's zone of a plan (an id or a path), or None when it cannot be read."""
    if not name_or_path:
        return None
    try:
        return load_plan(resolve_plan_path(name_or_path)).region.timezone
    except (PlanError, ConfigError):
        return None


def resolve_plan_path(name_or_path: str) -> Path:
    """A plan file from a path, or from the id of a shipped plan ('kemerovo-2017-essay')."""
    path = Path(name_or_path)
    if path.suffix in {".yaml", ".yml"} or path.exists():
        return path
    shipped = PLANS_DIR / f"{name_or_path}.yaml"
    if shipped.exists():
        return shipped
    known = ", ".join(sorted(p.stem for p in PLANS_DIR.glob("*.yaml")))
    raise PlanError(f"нет плана «{name_or_path}»: укажите путь к YAML или один из: {known}")
