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


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise PlanError(f"нет файла {path}") from exc
    except UnicodeDecodeError as exc:
        raise PlanError(f"файл {path} не в кодировке UTF-8") from exc
    except OSError as exc:
        raise PlanError(f"файл {path} не читается: {exc.strerror or exc}") from exc


def _parse_yaml(path: Path, text: str) -> tuple[Any, yaml.Node | None]:
    """The data and its node tree (the line of every key, for the schema's messages)."""
    try:
        return yaml.load(text, Loader=_PlainLoader), yaml.compose(text, Loader=_PlainLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (строка {mark.line + 1}, столбец {mark.column + 1})" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise PlanError(f"{path}: ошибка синтаксиса YAML{where}: {problem}") from exc


def _read_yaml(path: Path) -> Any:
    return _parse_yaml(path, _read_text(path))[0]


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
    "time_type": "ожидается время ЧЧ:ММ (от 00:00 до 24:00)",
    "time_parsing": "ожидается время ЧЧ:ММ (от 00:00 до 24:00)",
    "union_tag_not_found": "не указан вид (kind)",
    "too_short": "слишком мало элементов",
    "too_long": "слишком много элементов",
    "string_too_short": "пустая строка",
}


def _schema_item(item: Any) -> str:
    kind, context = item["type"], item.get("ctx") or {}
    if kind in _SCHEMA_MESSAGES:
        message = _SCHEMA_MESSAGES[kind]
        given = item.get("input")
        if kind != "missing" and isinstance(given, str | int | float) and given != "":
            message += f", указано «{given}»"
        return message
    if kind in ("literal_error", "enum"):
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
    # Pydantic's own sentence is English: the coordinator gets the value and the error's code.
    return f"недопустимое значение {item.get('input')!r} (ошибка {kind})"


def _locate(loc: tuple[Any, ...], node: yaml.Node | None) -> tuple[list[str], int | None]:
    """The field path as the file writes it (without pydantic's `kind` tags of a time
    specification) and the file's line of the deepest part of it that is there."""
    path: list[str] = []
    line = node.start_mark.line + 1 if node is not None else None
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            values = {key.value: value for key, value in node.value}
            if part not in values and getattr(values.get("kind"), "value", None) == part:
                continue  # the tag pydantic adds for the kind of a time specification
            node = values.get(part)
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            node = node.value[part] if 0 <= part < len(node.value) else None
        else:
            node = None
        path.append(str(part))
        if node is not None:
            line = node.start_mark.line + 1
    return path, line


def _where(loc: tuple[Any, ...], data: Any, node: yaml.Node | None) -> str:
    """«строка 61, этап publish_topics (строка 10 таблицы), поле time.at.time»."""
    path, line = _locate(loc, node)
    parts = [f"строка {line}"] if line is not None else []
    stages = data.get("stages") if isinstance(data, dict) else None
    if (
        len(path) >= 2
        and path[0] == "stages"
        and isinstance(loc[1], int)
        and isinstance(stages, list)
    ):
        stage = stages[loc[1]] if loc[1] < len(stages) else None
        stage = stage if isinstance(stage, dict) else {}
        name = f"этап {stage.get('id') or f'№ {loc[1] + 1} по порядку'}"
        row = stage.get("row")
        parts.append(name + (f" (строка {row} таблицы)" if row else ""))
        path = path[2:]
    if path:
        parts.append(f"поле {'.'.join(path)}")
    return ", ".join(parts) or "план"


def _schema_message(error: ValidationError, data: Any, node: yaml.Node | None) -> str:
    return "; ".join(
        f"{_where(tuple(item['loc']), data, node)}: {_schema_item(item)}" for item in error.errors()
    )


def load_plan(path: Path) -> Plan:
    """The plan in `path`, validated against the schema; PlanError says what is wrong: the
    file, its line, the stage (id and the source table's row) and the field."""
    data, node = _parse_yaml(path, _read_text(path))
    try:
        return Plan.model_validate(data)
    except ValidationError as exc:
        raise PlanError(f"{path}: не по схеме плана: {_schema_message(exc, data, node)}") from exc


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
