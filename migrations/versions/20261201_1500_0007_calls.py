"""Calls answered online: question kinds, journeys' drafts, responses, answers and themes

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 15:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import app.db

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Enums are strings with a CHECK constraint: a new value never needs ALTER TYPE.
CALL_STATUSES = ("draft", "published")
QUESTION_KINDS = (
    "short_text",
    "long_text",
    "one_choice",
    "several_choices",
    "yes_no",
    "scale",
)


def _string_enum(values: tuple[str, ...], name: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=20)


def upgrade() -> None:
    # Existing calls stay published and keep their words; existing questions are long text.
    with op.batch_alter_table("call", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "status",
                _string_enum(CALL_STATUSES, "status"),
                server_default="published",
                nullable=False,
            )
        )
        batch_op.add_column(
            sa.Column("allow_anonymous", sa.Boolean(), server_default=sa.true(), nullable=False)
        )
        batch_op.add_column(
            sa.Column("allow_skip", sa.Boolean(), server_default=sa.true(), nullable=False)
        )
        batch_op.add_column(
            sa.Column("keep_days", sa.Integer(), server_default="365", nullable=False)
        )

    with op.batch_alter_table("question", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "kind",
                _string_enum(QUESTION_KINDS, "kind"),
                server_default="long_text",
                nullable=False,
            )
        )
        batch_op.add_column(sa.Column("options", sa.JSON(), server_default="[]", nullable=False))
        batch_op.add_column(sa.Column("young_text", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("young_hint", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("max_chars", sa.Integer(), nullable=True))

    op.create_table(
        "journey_draft",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("journey", sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
        sa.Column("owner_key", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("participant_id", sa.Integer(), nullable=True),
        sa.Column("answers", sa.JSON(), nullable=False),
        sa.Column("submit_token", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("resume_token_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("resume_expires_at", app.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["participant_id"],
            ["participant.id"],
            name=op.f("fk_journey_draft_participant_id_participant"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_journey_draft")),
        sa.UniqueConstraint(
            "journey", "owner_key", name=op.f("uq_journey_draft_journey_owner_key")
        ),
        sa.UniqueConstraint("resume_token_hash", name=op.f("uq_journey_draft_resume_token_hash")),
    )
    with op.batch_alter_table("journey_draft", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_journey_draft_journey"), ["journey"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_journey_draft_participant_id"), ["participant_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_journey_draft_updated_at"), ["updated_at"], unique=False
        )

    op.create_table(
        "call_response",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("call_id", sa.Integer(), nullable=False),
        sa.Column("reference", sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
        sa.Column("submit_token_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("participant_id", sa.Integer(), nullable=True),
        sa.Column("display_name", sqlmodel.sql.sqltypes.AutoString(length=60), nullable=True),
        sa.Column("email", sqlmodel.sql.sqltypes.AutoString(length=254), nullable=True),
        sa.Column("age_band", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True),
        sa.Column("answers", sa.JSON(), nullable=False),
        sa.Column("quote_consent", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("quote_wording", sa.Text(), nullable=True),
        sa.Column("quote_version", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True),
        sa.Column("quote_consent_at", app.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("quote_withdrawn_at", app.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("submitted_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("erase_after", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["call_id"], ["call.id"], name=op.f("fk_call_response_call_id_call"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["participant_id"],
            ["participant.id"],
            name=op.f("fk_call_response_participant_id_participant"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_call_response")),
        sa.UniqueConstraint("reference", name=op.f("uq_call_response_reference")),
        # The repeat-submit token: one response per token, however the requests race.
        sa.UniqueConstraint("submit_token_hash", name=op.f("uq_call_response_submit_token_hash")),
    )
    with op.batch_alter_table("call_response", schema=None) as batch_op:
        for column in ("call_id", "erase_after", "participant_id", "submitted_at"):
            batch_op.create_index(batch_op.f(f"ix_call_response_{column}"), [column], unique=False)

    op.create_table(
        "call_theme",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("call_id", sa.Integer(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
        sa.Column("created_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["call_id"], ["call.id"], name=op.f("fk_call_theme_call_id_call"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_call_theme")),
        sa.UniqueConstraint("call_id", "name", name=op.f("uq_call_theme_call_id_name")),
    )
    with op.batch_alter_table("call_theme", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_call_theme_call_id"), ["call_id"], unique=False)

    op.create_table(
        "call_answer",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("response_id", sa.Integer(), nullable=False),
        sa.Column("question_id", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("choices", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["question_id"],
            ["question.id"],
            name=op.f("fk_call_answer_question_id_question"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["response_id"],
            ["call_response.id"],
            name=op.f("fk_call_answer_response_id_call_response"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_call_answer")),
        sa.UniqueConstraint(
            "response_id", "question_id", name=op.f("uq_call_answer_response_id_question_id")
        ),
    )
    with op.batch_alter_table("call_answer", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_call_answer_question_id"), ["question_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_call_answer_response_id"), ["response_id"], unique=False
        )

    op.create_table(
        "call_response_theme",
        sa.Column("response_id", sa.Integer(), nullable=False),
        sa.Column("theme_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["response_id"],
            ["call_response.id"],
            name=op.f("fk_call_response_theme_response_id_call_response"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["theme_id"],
            ["call_theme.id"],
            name=op.f("fk_call_response_theme_theme_id_call_theme"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("response_id", "theme_id", name=op.f("pk_call_response_theme")),
    )
    with op.batch_alter_table("call_response_theme", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_call_response_theme_theme_id"), ["theme_id"], unique=False
        )


def downgrade() -> None:
    op.drop_table("call_response_theme")
    op.drop_table("call_answer")
    op.drop_table("call_theme")
    op.drop_table("call_response")
    op.drop_table("journey_draft")
    with op.batch_alter_table("question", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_question_kind"), type_="check")
        for column in ("max_chars", "young_hint", "young_text", "options", "kind"):
            batch_op.drop_column(column)
    with op.batch_alter_table("call", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_call_status"), type_="check")
        for column in ("keep_days", "allow_skip", "allow_anonymous", "status"):
            batch_op.drop_column(column)
