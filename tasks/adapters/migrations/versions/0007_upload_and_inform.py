"""upload and inform: federal packages, acknowledgements, lookup attempts, stage locks

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 04:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import tasks.adapters.models

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "lookup_attempt",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("client_key", sa.String(length=64), nullable=False),
        sa.Column("at", tasks.adapters.models.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lookup_attempt")),
    )
    with op.batch_alter_table("lookup_attempt", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_lookup_attempt_at"), ["at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_lookup_attempt_client_key"), ["client_key"], unique=False
        )

    op.create_table(
        "acknowledgement",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("party", sa.String(length=32), nullable=False),
        sa.Column("document", sa.String(length=32), nullable=False),
        sa.Column("token_sha256", sa.String(length=64), nullable=False),
        sa.Column("content_sha256", sa.String(length=64), nullable=False),
        sa.Column("sent_at", tasks.adapters.models.UtcDateTime(timezone=True), nullable=False),
        sa.Column(
            "acknowledged_at", tasks.adapters.models.UtcDateTime(timezone=True), nullable=True
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["exam_session.id"],
            name=op.f("fk_acknowledgement_session_id_exam_session"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_acknowledgement")),
        sa.UniqueConstraint(
            "session_id",
            "party",
            "document",
            name=op.f("uq_acknowledgement_session_id_party_document"),
        ),
        sa.UniqueConstraint("token_sha256", name=op.f("uq_acknowledgement_token_sha256")),
    )
    with op.batch_alter_table("acknowledgement", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_acknowledgement_session_id"), ["session_id"], unique=False
        )

    op.create_table(
        "stage_lock",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("stage", sa.String(length=16), nullable=False),
        sa.Column("holder", sa.String(length=64), nullable=False),
        sa.Column("acquired_at", tasks.adapters.models.UtcDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", tasks.adapters.models.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["session_id"], ["exam_session.id"], name=op.f("fk_stage_lock_session_id_exam_session")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stage_lock")),
        sa.UniqueConstraint("session_id", "stage", name=op.f("uq_stage_lock_session_id_stage")),
    )
    with op.batch_alter_table("federal_upload", schema=None) as batch_op:
        batch_op.add_column(sa.Column("package_name", sa.String(length=96), nullable=True))
        batch_op.add_column(sa.Column("files", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("size_bytes", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("receipt", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("federal_upload", schema=None) as batch_op:
        batch_op.drop_column("receipt")
        batch_op.drop_column("size_bytes")
        batch_op.drop_column("files")
        batch_op.drop_column("package_name")

    op.drop_table("stage_lock")
    with op.batch_alter_table("acknowledgement", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_acknowledgement_session_id"))

    op.drop_table("acknowledgement")
    with op.batch_alter_table("lookup_attempt", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_lookup_attempt_client_key"))
        batch_op.drop_index(batch_op.f("ix_lookup_attempt_at"))

    op.drop_table("lookup_attempt")
