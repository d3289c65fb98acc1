"""plan board: every plan row's words and occurrences, manual marks, stored row states

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-08 00:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import tasks.adapters.models

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The coordinator signs in to the board (`/board/`) with the operators' login.
    with op.batch_alter_table("operator", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_operator_role"), type_="check")
        batch_op.create_check_constraint(
            "role", "role IN ('operator', 'senior', 'coordinator')"
        )
    with op.batch_alter_table("plan_stage", schema=None) as batch_op:
        batch_op.add_column(sa.Column("section", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("term", sa.Text(), nullable=True))
        batch_op.add_column(
            sa.Column("performers", sa.JSON(), nullable=False, server_default="[]")
        )
        batch_op.add_column(sa.Column("after", sa.JSON(), nullable=False, server_default="[]"))
        batch_op.add_column(sa.Column("external", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("windows", sa.JSON(), nullable=False, server_default="[]"))
        batch_op.add_column(
            sa.Column("position", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(
            sa.Column("retired", sa.Boolean(), nullable=False, server_default=sa.false())
        )

    op.create_table(
        "row_mark",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("plan_stage_id", sa.Integer(), nullable=False),
        sa.Column("party", sa.String(length=32), nullable=False),
        sa.Column("occurrence", sa.Integer(), nullable=False),
        sa.Column("done_at", tasks.adapters.models.UtcDateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["plan_stage_id"], ["plan_stage.id"], name=op.f("fk_row_mark_plan_stage_id_plan_stage")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_row_mark")),
        sa.UniqueConstraint(
            "plan_stage_id",
            "party",
            "occurrence",
            name=op.f("uq_row_mark_plan_stage_id_party_occurrence"),
        ),
    )
    with op.batch_alter_table("row_mark", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_row_mark_plan_stage_id"), ["plan_stage_id"], unique=False
        )

    op.create_table(
        "row_state",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("plan_stage_id", sa.Integer(), nullable=False),
        sa.Column("party", sa.String(length=32), nullable=False),
        sa.Column("occurrence", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("waiting_on", sa.String(length=200), nullable=False),
        sa.Column("due_at", tasks.adapters.models.UtcDateTime(timezone=True), nullable=True),
        sa.Column("done_at", tasks.adapters.models.UtcDateTime(timezone=True), nullable=True),
        sa.Column(
            "computed_at", tasks.adapters.models.UtcDateTime(timezone=True), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["plan_stage_id"],
            ["plan_stage.id"],
            name=op.f("fk_row_state_plan_stage_id_plan_stage"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_row_state")),
        sa.UniqueConstraint(
            "plan_stage_id",
            "party",
            "occurrence",
            name=op.f("uq_row_state_plan_stage_id_party_occurrence"),
        ),
    )
    with op.batch_alter_table("row_state", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_row_state_plan_stage_id"), ["plan_stage_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("operator", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_operator_role"), type_="check")
        batch_op.create_check_constraint("role", "role IN ('operator', 'senior')")
    with op.batch_alter_table("row_state", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_row_state_plan_stage_id"))
    op.drop_table("row_state")
    with op.batch_alter_table("row_mark", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_row_mark_plan_stage_id"))
    op.drop_table("row_mark")
    with op.batch_alter_table("plan_stage", schema=None) as batch_op:
        for column in (
            "retired", "position", "windows", "external", "after", "performers", "term"
        ):
            batch_op.drop_column(column)
        batch_op.drop_column("section")
