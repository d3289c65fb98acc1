"""A served exam session for the tests of `rcoi web` (web/): the shipped plan stored in a fresh
regional database, a few verification items with crops, and three operators; plus signing in
through the login form as a browser does."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from prefect.logging import disable_run_logger
from sqlalchemy import select

from config.settings import Settings
from tasks.adapters.database import bootstrap
from tasks.adapters.models import VerificationItem
from tasks.adapters.operators import add_operator
from tasks.adapters.plan_files import resolve_plan_path
from tasks.adapters.submissions import session_info
from tasks.adapters.unit_of_work import UnitOfWork
from tasks.plan import read_plan, store_plan

PLAN, SESSION = "kemerovo-2017-essay", "2017-12-06"
PASSWORD = "пароль-оператора-1"
CROP = b"\x89PNG\r\n\x1a\n-a-test-crop-"
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


@dataclass(frozen=True)
class Items:
    """Ids of the served items: a topic number (open), a result field under double check
    whose protocol says «зачет», a rejected page (a senior's) and a resolved topic number."""

    topic: int
    k3: int
    page: int
    resolved: int


def serve_session(out: Path) -> tuple[Settings, Items]:
    """The settings of a fresh installation under `out` with the served session's items,
    their crops and the operators ivanova, petrov (operators) and smirnova (senior)."""
    settings = Settings(out_dir=out)
    with disable_run_logger():
        store_plan.fn(settings, read_plan.fn(resolve_plan_path(PLAN)))
    database = bootstrap(settings)
    try:
        with UnitOfWork(database.session_factory) as uow:
            session_id = session_info(uow.session, PLAN, SESSION).id

            def item(key: str, **fields: object) -> VerificationItem:
                values: dict[str, object] = {
                    "kind": "scan",
                    "field": "topic_number",
                    "reason": "цифры поля распознаны неуверенно",
                    "recognised_value": "102",
                    "status": "open",
                    **fields,
                }
                return VerificationItem(key=key, session_id=session_id, **values)

            uow.session.add_all(
                [
                    item("test:topic"),
                    item(
                        "test:k3",
                        kind="result",
                        field="k3",
                        reason="К3: отметка в оригинале бланка не совпадает с протоколом",
                        recognised_value="незачет",
                        double_check=True,
                        detail={"finding": "transcription_mismatch", "expected": "зачет"},
                    ),
                    item("test:page", kind="page", field=None, recognised_value=None),
                    item("test:resolved", status="resolved", resolved_value="102"),
                ]
            )
            for login, role in (
                ("ivanova", "operator"),
                ("petrov", "operator"),
                ("smirnova", "senior"),
            ):
                add_operator(uow.session, login, PASSWORD, role, actor="test")
            uow.commit()
            ids = {
                key: item_id
                for key, item_id in uow.session.execute(
                    select(VerificationItem.key, VerificationItem.id)
                ).tuples()
            }
    finally:
        database.dispose()
    crops = out / "verify" / SESSION / "crops"
    crops.mkdir(parents=True)
    for item_id in ids.values():
        (crops / f"{item_id}.png").write_bytes(CROP)
    return settings, Items(
        ids["test:topic"], ids["test:k3"], ids["test:page"], ids["test:resolved"]
    )


def login_token(html: str) -> str:
    """The login form's CSRF token (the page also sets it as a cookie)."""
    found = _CSRF.search(html)
    assert found, "no CSRF token on the login page"
    return found.group(1)
