"""The regional database side of the upload stage: the works of a session's federal package
with their verified results and pages, and the `federal_upload` row of each package."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tasks.adapters.models import (
    Campaign,
    ExamSession,
    FederalUpload,
    Mouo,
    Page,
    Participant,
    Registration,
    Result,
    School,
    VerificationItem,
    Work,
)
from tasks.domain.federal_package import PackageInfo, PackagePage, PackageWork
from tasks.domain.verify import OPEN_STATUSES

__all__ = [
    "mark_receipt",
    "mark_uploaded",
    "package_info",
    "package_works",
    "pages_without_work",
    "upload_row",
]


def package_info(session: Session, session_id: int) -> PackageInfo:
    exam, campaign = session.execute(
        select(ExamSession, Campaign)
        .join(Campaign, Campaign.id == ExamSession.campaign_id)
        .where(ExamSession.id == session_id)
    ).one()
    return PackageInfo(
        region=campaign.region_code,
        session=exam.code,
        exam_date=exam.exam_date,
        procedure=campaign.procedure,
        school_year=campaign.school_year,
    )


def package_works(session: Session, session_id: int) -> list[PackageWork]:
    """Every kit of a registered participant with its verified result (`unresolved` where
    there is none: the contract then refuses the package) and its identified, not rejected
    pages. A page that needed verification counts as `verified` once none of its items is
    open (the package is never built while any is)."""
    kits = session.execute(
        select(
            Work.id,
            Work.work_code,
            Mouo.code,
            School.code,
            Registration.form,
            Work.oral,
            Result.outcome,
            Result.marks,
            Result.annulled,
        )
        .join(Registration, Registration.id == Work.registration_id)
        .join(Participant, Participant.id == Registration.participant_id)
        .join(Mouo, Mouo.id == Participant.mouo_id)
        .join(School, School.id == Work.school_id)
        .outerjoin(Result, Result.registration_id == Registration.id)
        .where(Work.session_id == session_id, Work.kind == "kit")
    ).all()
    open_pages = set(
        session.scalars(
            select(VerificationItem.page_id).where(
                VerificationItem.session_id == session_id,
                VerificationItem.status.in_(OPEN_STATUSES),
                VerificationItem.page_id.is_not(None),
            )
        )
    )
    pages: dict[int, list[PackagePage]] = {}
    for page in session.scalars(
        select(Page).where(
            Page.session_id == session_id,
            Page.work_id.is_not(None),
            Page.status != "rejected",
            Page.image_path.is_not(None),
        )
    ):
        status = page.status
        if status == "needs_verification" and page.id not in open_pages:
            status = "verified"
        pages.setdefault(int(page.work_id or 0), []).append(
            PackagePage(
                blank_type=page.blank_type or "",
                page_number=page.page_number if page.blank_type != "registration" else None,
                status=status,
                page_id=page.content_hash,
                source_file=str(page.image_path),
                frame=page.source_index,
            )
        )
    works = []
    for work_id, code, mouo, school, form, oral, outcome, marks, annulled in kits:
        works.append(
            PackageWork(
                work_code=code,
                mouo_code=mouo,
                school_code=school,
                form=form,
                oral=bool(oral),
                outcome=outcome if outcome and not annulled else "unresolved",
                marks={g: v for g, v in (marks or {}).items()} or None,
                pages=tuple(pages.get(work_id, ())),
            )
        )
    return works


def pages_without_work(session: Session, session_id: int) -> int:
    """Pages of the session not rejected yet of no work (not sent: they stay in the region)."""
    return len(
        session.scalars(
            select(Page.id).where(
                Page.session_id == session_id,
                Page.work_id.is_(None),
                Page.status != "rejected",
            )
        ).all()
    )


def upload_row(
    session: Session, session_id: int, package_sha256: str, name: str, target: str
) -> FederalUpload:
    """The package's row, created once (a re-run of the same package finds it)."""
    row = session.scalar(
        select(FederalUpload).where(
            FederalUpload.session_id == session_id,
            FederalUpload.package_sha256 == package_sha256,
        )
    )
    if row is None:
        row = FederalUpload(
            session_id=session_id,
            package_sha256=package_sha256,
            package_name=name,
            target=target,
            status="pending",
        )
        session.add(row)
        session.flush()
    row.target = target
    return row


def mark_uploaded(row: FederalUpload, files: int, size: int, now: datetime) -> None:
    if row.status == "pending":
        row.status = "uploaded"
    row.uploaded_at = row.uploaded_at or now
    row.files, row.size_bytes = files, size


def mark_receipt(row: FederalUpload, receipt: dict[str, Any], now: datetime) -> None:
    """Keep the receipt's verdict and counts (codes only: problems name work codes)."""
    row.status = "accepted" if receipt.get("status") == "accepted" else "rejected"
    row.receipt_at = row.receipt_at or now
    row.receipt = {
        "status": receipt.get("status"),
        "received_at": receipt.get("received_at"),
        "works": receipt.get("works"),
        "problems": list(receipt.get("problems") or [])[:100],
    }
