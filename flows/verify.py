"""Verify flow (верификация, seed 000 row 17): one queue of everything that needs a person —
uncertain marks and digits, code mismatches, unknown and orphan pages, rejected pages, grade
inconsistencies and transcription mismatches — resolved by operators on the `/verify/` pages
(`rcoi web`); the flow waits until the queue is empty or the coordinator closes it, then writes
the verified results. Nothing goes on to upload while an item is open."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from config.settings import Settings
from flows.labels import stage_flow
from tasks.adapters.plan_files import resolve_plan_path
from tasks.grade import check_grades
from tasks.plan import read_plan
from tasks.verify import (
    demo_operators_resolve,
    gather_queue,
    wait_for_queue,
    write_verified_results,
)

__all__ = ["verify"]

MAX_ROUNDS = 3  # answers about the original's marks can open new grade items, rarely twice


@stage_flow("verify")
def verify(
    out: str = "out",
    plan: str = "kemerovo-2017-essay",
    session: str | None = None,
    poll_seconds: float = 30.0,
    timeout_seconds: float | None = None,
    demo_ground_truth: str | None = None,
) -> dict[str, Any]:
    """Gather the queue and its crops, wait for the operators (polling every `poll_seconds`,
    up to `timeout_seconds` if given), check the grades again with the operators' answers
    (a new finding starts another round), then write `<out>/verify/<session>/results.csv`.
    With `demo_ground_truth` (the simulator's file) the demo's simulated operators answer."""
    settings = Settings(out_dir=Path(out))
    the_plan = read_plan(resolve_plan_path(plan))
    session_code = session or the_plan.sessions[0].id
    folder = settings.out_dir / "verify" / session_code
    summary: dict[str, Any] = {"rounds": []}
    for _ in range(MAX_ROUNDS):
        round_: dict[str, Any] = {
            "queue": gather_queue(settings, the_plan.id, session_code, folder / "crops")
        }
        summary["rounds"].append(round_)
        if demo_ground_truth:
            round_["demo_operators"] = demo_operators_resolve(
                settings, the_plan.id, session_code, Path(demo_ground_truth)
            )
        waited = wait_for_queue(settings, the_plan.id, session_code, poll_seconds, timeout_seconds)
        round_["wait"] = summary["wait"] = waited
        if waited["open"] and not waited["closed_by_coordinator"]:
            summary["results"] = "not written: the queue has open items"
            return summary
        # Operators' answers about the original's marks may reveal a new inconsistency.
        rechecked = check_grades(settings, the_plan.id, session_code)
        round_["grade_recheck_opened"] = rechecked["verification_opened"]
        if rechecked["verification_opened"] == 0 or waited["closed_by_coordinator"]:
            break
    else:  # still new findings after the last round: they wait for the next run
        summary["results"] = "not written: the grade recheck opened new items"
        return summary
    summary["results"] = write_verified_results(settings, the_plan.id, session_code, folder)
    return summary
