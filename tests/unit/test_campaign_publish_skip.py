"""The demo's summary says why it did not publish the topics, instead of «не запускался»."""

from __future__ import annotations

from config import PLANS_DIR
from tasks.adapters.plan_files import load_plan
from tasks.campaign import publish_skipped
from tasks.domain.plan import Plan
from tasks.domain.summary import summary_document, summary_markdown

CAMPAIGN = {"plan": "p", "region": "42", "session": "s", "participants": 1, "seed": 1}


def _publish_line(entry_plan: Plan, session_id: str) -> str:
    document = summary_document(CAMPAIGN, [publish_skipped(entry_plan, session_id)])
    [stage] = [s for s in document["stages"] if s["stage"] == "publish"]
    assert stage["status"] == "skipped"
    return next(line for line in summary_markdown(document).splitlines() if "Публикация" in line)


def test_a_session_without_shipped_topics_is_skipped_as_topics_not_loaded() -> None:
    shipped = load_plan(PLANS_DIR / "kemerovo-2017-essay.yaml").model_dump(mode="json")
    shipped["sessions"].append({"id": "2019-12-04", "exam_date": "2019-12-04"})
    line = _publish_line(Plan.model_validate(shipped), "2019-12-04")
    assert "пропущено" in line
    assert "темы срока 2019-12-04 не загружены" in line
    assert "2019-12-04.yaml" in line
    assert "реализ" not in line
    assert "не запускался" not in line


def test_a_plan_without_a_publish_stage_says_so() -> None:
    roadmap = load_plan(PLANS_DIR / "kuzbass-2024-roadmap.yaml")
    line = _publish_line(roadmap, roadmap.sessions[0].id)
    assert "пропущено" in line
    assert "нет этапа публикации тем" in line
