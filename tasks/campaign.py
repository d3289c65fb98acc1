"""Prefect tasks of the campaign flow: its summary file and artifacts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from prefect import task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NONE

from tasks.domain.summary import StageSummary, summary_document, summary_markdown

__all__ = ["write_campaign_summary"]


@task(name="write-summary", cache_policy=NONE)
def write_campaign_summary(
    out: Path, campaign: dict[str, Any], entries: list[StageSummary]
) -> dict[str, Any]:
    """Write summary.json and summary.md under `out` and show them as Prefect artifacts."""
    document = summary_document(campaign, entries)
    markdown = summary_markdown(document)
    out.mkdir(parents=True, exist_ok=True)
    (out / "summary.json").write_text(
        json.dumps(document, ensure_ascii=False, indent=2), encoding="utf-8"
    )
    (out / "summary.md").write_text(markdown, encoding="utf-8")
    create_markdown_artifact(
        key="campaign-summary", markdown=markdown, description="Состояние этапов кампании"
    )
    create_table_artifact(
        key="campaign-stages",
        table=[
            {
                "этап": s["stage"],
                "состояние": s["status"],
                "показатели": json.dumps(s["counts"], ensure_ascii=False),
            }
            for s in document["stages"]
        ],
        description="Этапы кампании и их показатели",
    )
    return document
