"""copy, grade, verify: room records, experts and assignments, operators and their sessions,
the queue's closure, double verification of result fields, a result's marks

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 01:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import tasks.adapters.models


revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "operator",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("login", sa.String(length=64), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", tasks.adapters.models.UtcDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("role IN ('operator', 'senior')", name=op.f("ck_operator_role")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_operator")),
        sa.UniqueConstraint("login", name=op.f("uq_operator_login")),
    )
    op.create_table(
        "web_session",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_sha256", sa.String(length=64), nullable=False),
        sa.Column("operator_id", sa.Integer(), nullable=False),
        sa.Column("csrf_token", sa.String(length=64), nullable=False),
        sa.Column("created_at", tasks.adapters.models.UtcDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", tasks.adapters.models.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["operator_id"], ["operator.id"], name=op.f("fk_web_session_operator_id_operator")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_web_session")),
        sa.UniqueConstraint("token_sha256", name=op.f("uq_web_session_token_sha256")),
    )
    with op.batch_alter_table("web_session", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_web_session_operator_id"), ["operator_id"], unique=False
        )

    op.create_table(
        "expert",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("school_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["school_id"], ["school.id"], name=op.f("fk_expert_school_id_school")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_expert")),
        sa.UniqueConstraint("code", name=op.f("uq_expert_code")),
    )
    with op.batch_alter_table("expert", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_expert_school_id"), ["school_id"], unique=False)

    op.create_table(
        "queue_closure",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("closed_by", sa.String(length=64), nullable=False),
        sa.Column("closed_at", tasks.adapters.models.UtcDateTime(timezone=True), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["exam_session.id"],
            name=op.f("fk_queue_closure_session_id_exam_session"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_queue_closure")),
        sa.UniqueConstraint("session_id", name=op.f("uq_queue_closure_session_id")),
    )
    op.create_table(
        "assignment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("work_id", sa.Integer(), nullable=False),
        sa.Column("expert_id", sa.Integer(), nullable=False),
        sa.Column("assigned_by", sa.String(length=64), nullable=False),
        sa.Column("assigned_at", tasks.adapters.models.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["expert_id"], ["expert.id"], name=op.f("fk_assignment_expert_id_expert")
        ),
        sa.ForeignKeyConstraint(["work_id"], ["work.id"], name=op.f("fk_assignment_work_id_work")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assignment")),
        sa.UniqueConstraint("work_id", name=op.f("uq_assignment_work_id")),
    )
    with op.batch_alter_table("assignment", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_assignment_expert_id"), ["expert_id"], unique=False)

    op.create_table(
        "room_record",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("work_id", sa.Integer(), nullable=False),
        sa.Column("attendance", sa.String(length=12), nullable=False),
        sa.Column("not_finished", sa.Boolean(), nullable=False),
        sa.Column("removed", sa.Boolean(), nullable=False),
        sa.Column("oral", sa.Boolean(), nullable=False),
        sa.Column("answer_blanks", sa.Integer(), nullable=True),
        sa.Column("additional_blanks", sa.Text(), nullable=False),
        sa.Column("source_file", sa.Text(), nullable=False),
        sa.Column("received_at", tasks.adapters.models.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["session_id"], ["exam_session.id"], name=op.f("fk_room_record_session_id_exam_session")
        ),
        sa.ForeignKeyConstraint(["work_id"], ["work.id"], name=op.f("fk_room_record_work_id_work")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_room_record")),
        sa.UniqueConstraint("work_id", name=op.f("uq_room_record_work_id")),
    )
    with op.batch_alter_table("room_record", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_room_record_session_id"), ["session_id"], unique=False)

    with op.batch_alter_table("result", schema=None) as batch_op:
        batch_op.add_column(sa.Column("work_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("marks", sa.JSON(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_result_work_id_work"), "work", ["work_id"], ["id"]
        )

    with op.batch_alter_table("verification_item", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("double_check", sa.Boolean(), server_default="0", nullable=False)
        )
        batch_op.add_column(sa.Column("first_value", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("first_by", sa.String(length=64), nullable=True))
        batch_op.add_column(
            sa.Column("first_at", tasks.adapters.models.UtcDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("detail", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("verification_item", schema=None) as batch_op:
        batch_op.drop_column("detail")
        batch_op.drop_column("first_at")
        batch_op.drop_column("first_by")
        batch_op.drop_column("first_value")
        batch_op.drop_column("double_check")

    with op.batch_alter_table("result", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_result_work_id_work"), type_="foreignkey")
        batch_op.drop_column("marks")
        batch_op.drop_column("work_id")

    with op.batch_alter_table("room_record", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_room_record_session_id"))

    op.drop_table("room_record")
    with op.batch_alter_table("assignment", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_assignment_expert_id"))

    op.drop_table("assignment")
    op.drop_table("queue_closure")
    with op.batch_alter_table("expert", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_expert_school_id"))

    op.drop_table("expert")
    with op.batch_alter_table("web_session", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_web_session_operator_id"))

    op.drop_table("web_session")
    op.drop_table("operator")
