"""scan: a scanned page belongs to a session (orphans and rejected pages too) and has a page key

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 22:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("page", schema=None) as batch_op:
        batch_op.add_column(sa.Column("session_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("page_key", sa.String(length=40), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_page_session_id_exam_session"), "exam_session", ["session_id"], ["id"]
        )
        batch_op.create_index(batch_op.f("ix_page_session_id"), ["session_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("page", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_page_session_id"))
        batch_op.drop_constraint(batch_op.f("fk_page_session_id_exam_session"), type_="foreignkey")
        batch_op.drop_column("page_key")
        batch_op.drop_column("session_id")
