"""Recruitment rounds: groups, rounds and their questions, applications, extensions, reviews, decisions

Revision ID: 0011_rounds
Revises: 0010_workshop_families
Create Date: 2026-12-02 11:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import app.db

revision: str = "0011_rounds"
down_revision: str | None = "0010_workshop_families"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "recruit_group",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slug", sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("summary", sa.Text(), server_default="", nullable=False),
        sa.Column("created_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recruit_group")),
        sa.UniqueConstraint("slug", name=op.f("uq_recruit_group_slug")),
    )
    op.create_table(
        "recruit_round",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("slug", sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
        sa.Column("title", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("time_asked", sa.Text(), nullable=False),
        sa.Column("in_return", sa.Text(), nullable=False),
        sa.Column("min_age", sa.Integer(), nullable=False),
        sa.Column("max_age", sa.Integer(), nullable=False),
        sa.Column("who_can_apply", sa.Text(), nullable=False),
        sa.Column("how_info_used", sa.Text(), nullable=False),
        sa.Column(
            "adjustments_question", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False
        ),
        sa.Column("criteria", sa.JSON(), nullable=False),
        sa.Column("disagreement", sa.Integer(), server_default="2", nullable=False),
        sa.Column("opens_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("closes_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "draft",
                "open",
                "closed",
                "decided",
                name="status",
                native_enum=False,
                create_constraint=True,
                length=20,
            ),
            server_default="draft",
            nullable=False,
        ),
        sa.Column("templates", sa.JSON(), nullable=False),
        sa.Column("keep_days", sa.Integer(), server_default="180", nullable=False),
        sa.Column("decided_at", app.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["recruit_group.id"],
            name=op.f("fk_recruit_round_group_id_recruit_group"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recruit_round")),
        sa.UniqueConstraint("slug", name=op.f("uq_recruit_round_slug")),
    )
    with op.batch_alter_table("recruit_round", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_recruit_round_closes_at"), ["closes_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_recruit_round_group_id"), ["group_id"], unique=False)

    op.create_table(
        "application",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("round_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("reference", sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
        sa.Column("submit_token_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("manage_token_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("participant_id", sa.Integer(), nullable=True),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("email", sqlmodel.sql.sqltypes.AutoString(length=254), nullable=False),
        sa.Column("age", sa.Integer(), nullable=False),
        sa.Column("answers", sa.JSON(), nullable=False),
        sa.Column("adjustments", sa.Text(), nullable=False),
        sa.Column("declaration", sa.Boolean(), nullable=False),
        sa.Column("consent", sa.Boolean(), nullable=False),
        sa.Column("consent_wording", sa.Text(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "submitted",
                "withdrawn",
                name="status",
                native_enum=False,
                create_constraint=True,
                length=20,
            ),
            server_default="submitted",
            nullable=False,
        ),
        sa.Column("submitted_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("withdrawn_at", app.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("erase_after", app.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["participant_id"],
            ["participant.id"],
            name=op.f("fk_application_participant_id_participant"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["round_id"],
            ["recruit_round.id"],
            name=op.f("fk_application_round_id_recruit_round"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_application")),
        sa.UniqueConstraint("manage_token_hash", name=op.f("uq_application_manage_token_hash")),
        sa.UniqueConstraint("reference", name=op.f("uq_application_reference")),
        sa.UniqueConstraint("round_id", "number", name=op.f("uq_application_round_id_number")),
        sa.UniqueConstraint("submit_token_hash", name=op.f("uq_application_submit_token_hash")),
    )
    with op.batch_alter_table("application", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_application_erase_after"), ["erase_after"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_application_participant_id"), ["participant_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_application_round_id"), ["round_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_application_submitted_at"), ["submitted_at"], unique=False
        )

    op.create_table(
        "round_extension",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("round_id", sa.Integer(), nullable=False),
        sa.Column("draft_id", sa.Integer(), nullable=False),
        sa.Column("until", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("granted_by", sa.Integer(), nullable=True),
        sa.Column("created_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["draft_id"],
            ["journey_draft.id"],
            name=op.f("fk_round_extension_draft_id_journey_draft"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["granted_by"],
            ["staff_user.id"],
            name=op.f("fk_round_extension_granted_by_staff_user"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["round_id"],
            ["recruit_round.id"],
            name=op.f("fk_round_extension_round_id_recruit_round"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_round_extension")),
        sa.UniqueConstraint("draft_id", name=op.f("uq_round_extension_draft_id")),
    )
    with op.batch_alter_table("round_extension", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_round_extension_round_id"), ["round_id"], unique=False)

    op.create_table(
        "round_question",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("round_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("hint", sa.Text(), nullable=True),
        sa.Column(
            "kind",
            sa.Enum(
                "short_text",
                "long_text",
                "one_choice",
                "several_choices",
                "yes_no",
                "scale",
                name="kind",
                native_enum=False,
                create_constraint=True,
                length=20,
            ),
            server_default="long_text",
            nullable=False,
        ),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("young_text", sa.Text(), nullable=True),
        sa.Column("young_hint", sa.Text(), nullable=True),
        sa.Column("max_chars", sa.Integer(), nullable=True),
        sa.Column("identifying", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.ForeignKeyConstraint(
            ["round_id"],
            ["recruit_round.id"],
            name=op.f("fk_round_question_round_id_recruit_round"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_round_question")),
        sa.UniqueConstraint("round_id", "number", name=op.f("uq_round_question_round_id_number")),
    )
    with op.batch_alter_table("round_question", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_round_question_round_id"), ["round_id"], unique=False)

    op.create_table(
        "application_decision",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("application_id", sa.Integer(), nullable=False),
        sa.Column(
            "outcome",
            sa.Enum(
                "shortlist",
                "offer",
                "waiting_list",
                "decline",
                name="outcome",
                native_enum=False,
                create_constraint=True,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("decided_by", sa.Integer(), nullable=True),
        sa.Column("decided_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("emailed_at", app.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["application.id"],
            name=op.f("fk_application_decision_application_id_application"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["decided_by"],
            ["staff_user.id"],
            name=op.f("fk_application_decision_decided_by_staff_user"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_application_decision")),
        sa.UniqueConstraint("application_id", name=op.f("uq_application_decision_application_id")),
    )
    op.create_table(
        "application_review",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("application_id", sa.Integer(), nullable=False),
        sa.Column("reviewer_id", sa.Integer(), nullable=True),
        sa.Column("scores", sa.JSON(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("created_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["application.id"],
            name=op.f("fk_application_review_application_id_application"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["reviewer_id"],
            ["staff_user.id"],
            name=op.f("fk_application_review_reviewer_id_staff_user"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_application_review")),
        sa.UniqueConstraint(
            "application_id",
            "reviewer_id",
            name=op.f("uq_application_review_application_id_reviewer_id"),
        ),
    )
    with op.batch_alter_table("application_review", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_application_review_application_id"), ["application_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_application_review_reviewer_id"), ["reviewer_id"], unique=False
        )


def downgrade() -> None:

    with op.batch_alter_table("application_review", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_application_review_reviewer_id"))
        batch_op.drop_index(batch_op.f("ix_application_review_application_id"))

    op.drop_table("application_review")
    op.drop_table("application_decision")
    with op.batch_alter_table("round_question", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_round_question_round_id"))

    op.drop_table("round_question")
    with op.batch_alter_table("round_extension", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_round_extension_round_id"))

    op.drop_table("round_extension")
    with op.batch_alter_table("application", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_application_submitted_at"))
        batch_op.drop_index(batch_op.f("ix_application_round_id"))
        batch_op.drop_index(batch_op.f("ix_application_participant_id"))
        batch_op.drop_index(batch_op.f("ix_application_erase_after"))

    op.drop_table("application")
    with op.batch_alter_table("recruit_round", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_recruit_round_group_id"))
        batch_op.drop_index(batch_op.f("ix_recruit_round_closes_at"))

    op.drop_table("recruit_round")
    op.drop_table("recruit_group")
