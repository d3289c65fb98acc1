"""Small in-test plans for the publish stage: one exam day, one publish stage, in a region of
config/regions.yaml (so its IANA zone is the one the system knows)."""

from __future__ import annotations

from typing import Any

from tasks.adapters.region_files import load_regions
from tasks.domain.plan import Plan

EXAM_DAY = "2017-12-06"
# Region code -> the instant 09:45 local is in UTC (Kamchatka: the evening before).
UTC_0945 = {
    "08": "2017-12-06T06:45:00+00:00",  # Europe/Moscow, UTC+3
    "42": "2017-12-06T02:45:00+00:00",  # Asia/Novokuznetsk, UTC+7
    "86": "2017-12-06T04:45:00+00:00",  # Asia/Yekaterinburg, UTC+5
    "41": "2017-12-05T21:45:00+00:00",  # Asia/Kamchatka, UTC+12
}


def publish_plan(
    region_code: str,
    *,
    at: str = "09:45",
    kind: str = "exact",
    extra_stages: tuple[dict[str, Any], ...] = (),
    plan_id: str | None = None,
) -> Plan:
    """A one-session essay plan of the region with a publish stage at `at` local."""
    region = load_regions()[region_code]
    return Plan.model_validate(
        {
            "schema_version": 1,
            "id": plan_id or f"test-{region_code}-essay",
            "title": f"Тестовый план: {region.name}",
            "procedure": "ИС-11",
            "school_year": "2017/18",
            "region": {"code": region.code, "name": region.name, "timezone": region.timezone},
            "sessions": [{"id": EXAM_DAY, "exam_date": EXAM_DAY}],
            "stages": [
                {
                    "id": "publish_topics",
                    "title": "Публикация тем итогового сочинения",
                    "stage": "publish",
                    "responsible": ["rcoi"],
                    "time": {"kind": kind, "at": {"offset": 0, "time": at}},
                },
                *extra_stages,
            ],
        }
    )
