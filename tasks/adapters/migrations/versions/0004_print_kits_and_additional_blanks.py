"""print: kinds of printed codes (kit, reserve, additional blank), their room and sequence

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 19:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("work", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("kind", sa.String(length=12), server_default="kit", nullable=False)
        )
        batch_op.add_column(sa.Column("room_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("sequence", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f("fk_work_room_id_room"), "room", ["room_id"], ["id"])
        batch_op.create_check_constraint(
            batch_op.f("ck_work_kind"), "kind IN ('kit', 'reserve', 'additional')"
        )
        batch_op.create_unique_constraint(
            batch_op.f("uq_work_session_id_school_id_kind_sequence"),
            ["session_id", "school_id", "kind", "sequence"],
        )


def downgrade() -> None:
    with op.batch_alter_table("work", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("uq_work_session_id_school_id_kind_sequence"), type_="unique"
        )
        batch_op.drop_constraint(batch_op.f("ck_work_kind"), type_="check")
        batch_op.drop_constraint(batch_op.f("fk_work_room_id_room"), type_="foreignkey")
        batch_op.drop_column("sequence")
        batch_op.drop_column("room_id")
        batch_op.drop_column("kind")
