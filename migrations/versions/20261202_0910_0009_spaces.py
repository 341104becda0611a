"""Spaces: threads, posts, "Me too", reports, removals, screening words, concerns

Revision ID: 0009_spaces
Revises: 0008_security
Create Date: 2026-12-02 09:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import app.db

revision: str = "0009_spaces"
down_revision: str | None = "0008_security"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Enums are strings with a CHECK constraint: a new value never needs ALTER TYPE.
SPACE_KINDS = ("workshop", "group", "programme")
SPACE_MODES = ("pre_moderated", "post_moderated", "closed")
POST_STATES = ("waiting", "shared", "held", "hidden", "removed", "concern")
REPORT_REASONS = ("upsetting", "personal_details", "bullying", "worried", "other")
TERM_KINDS = ("disclosure", "abuse")
CONCERN_STATUSES = ("new", "in_progress", "referred", "closed")
CONCERN_SOURCES = ("screening", "report", "staff")
NOTE_KINDS = ("note", "action", "status")


def _string_enum(values: tuple[str, ...], name: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=20)


def _when(name: str, nullable: bool = True) -> sa.Column:
    return sa.Column(name, app.db.UTCDateTime(timezone=True), nullable=nullable)


def _string(name: str, length: int, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sqlmodel.sql.sqltypes.AutoString(length=length), nullable=nullable)


def _fk(table: str, column: str, target: str, ondelete: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.id"], name=op.f(f"fk_{table}_{column}_{target}"), ondelete=ondelete
    )


def _indexes(table: str, *columns: str) -> None:
    with op.batch_alter_table(table, schema=None) as batch_op:
        for column in columns:
            batch_op.create_index(batch_op.f(f"ix_{table}_{column}"), [column], unique=False)


def upgrade() -> None:
    op.create_table(
        "space",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", _string_enum(SPACE_KINDS, "kind"), nullable=False),
        sa.Column("workshop_id", sa.Integer(), nullable=True),
        sa.Column("programme_id", sa.Integer(), nullable=False),
        _string("title", 200),
        sa.Column(
            "mode",
            _string_enum(SPACE_MODES, "mode"),
            server_default="pre_moderated",
            nullable=False,
        ),
        sa.Column("under_18s", sa.Boolean(), nullable=False),
        _when("created_at", nullable=False),
        _fk("space", "programme_id", "programme", "CASCADE"),
        _fk("space", "workshop_id", "workshop", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_space")),
        sa.UniqueConstraint("workshop_id", name=op.f("uq_space_workshop_id")),
    )
    _indexes("space", "programme_id")

    op.create_table(
        "thread",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("space_id", sa.Integer(), nullable=False),
        sa.Column("prompt", sa.Text(), nullable=False),
        _when("created_at", nullable=False),
        _fk("thread", "space_id", "space", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_thread")),
    )
    _indexes("thread", "space_id")

    op.create_table(
        "post",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("space_id", sa.Integer(), nullable=False),
        sa.Column("thread_id", sa.Integer(), nullable=False),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column("participant_id", sa.Integer(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("state", _string_enum(POST_STATES, "state"), nullable=False),
        sa.Column("screen_reasons", sa.JSON(), nullable=False),
        _string("reason", 300, nullable=True),
        _string("edit_note", 300, nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        _when("created_at", nullable=False),
        _when("edited_at"),
        _when("deleted_at"),
        _when("decided_at"),
        _fk("post", "parent_id", "post", "SET NULL"),
        _fk("post", "participant_id", "participant", "CASCADE"),
        _fk("post", "space_id", "space", "CASCADE"),
        _fk("post", "thread_id", "thread", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_post")),
    )
    _indexes("post", "parent_id", "participant_id", "space_id", "state", "thread_id")

    op.create_table(
        "reaction",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("post_id", sa.Integer(), nullable=False),
        sa.Column("participant_id", sa.Integer(), nullable=False),
        _when("created_at", nullable=False),
        _fk("reaction", "participant_id", "participant", "CASCADE"),
        _fk("reaction", "post_id", "post", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reaction")),
        sa.UniqueConstraint(
            "post_id", "participant_id", name=op.f("uq_reaction_post_id_participant_id")
        ),
    )
    _indexes("reaction", "participant_id", "post_id")

    op.create_table(
        "report",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("post_id", sa.Integer(), nullable=False),
        sa.Column("participant_id", sa.Integer(), nullable=False),
        sa.Column("reason", _string_enum(REPORT_REASONS, "reason"), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        _when("created_at", nullable=False),
        _when("reviewed_at"),
        _fk("report", "participant_id", "participant", "CASCADE"),
        _fk("report", "post_id", "post", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report")),
        # One report per person per post: "reported by N people" counts people.
        sa.UniqueConstraint(
            "post_id", "participant_id", name=op.f("uq_report_post_id_participant_id")
        ),
    )
    _indexes("report", "participant_id", "post_id", "reviewed_at")

    op.create_table(
        "space_removal",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("space_id", sa.Integer(), nullable=False),
        sa.Column("participant_id", sa.Integer(), nullable=False),
        _when("created_at", nullable=False),
        _fk("space_removal", "participant_id", "participant", "CASCADE"),
        _fk("space_removal", "space_id", "space", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_space_removal")),
        sa.UniqueConstraint(
            "space_id", "participant_id", name=op.f("uq_space_removal_space_id_participant_id")
        ),
    )
    _indexes("space_removal", "participant_id", "space_id")

    op.create_table(
        "screen_term",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", _string_enum(TERM_KINDS, "kind"), nullable=False),
        _string("phrase", 100),
        _when("created_at", nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_screen_term")),
        sa.UniqueConstraint("kind", "phrase", name=op.f("uq_screen_term_kind_phrase")),
    )

    op.create_table(
        "concern",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(
            "status",
            _string_enum(CONCERN_STATUSES, "status"),
            server_default="new",
            nullable=False,
        ),
        sa.Column("source", _string_enum(CONCERN_SOURCES, "source"), nullable=False),
        sa.Column("space_id", sa.Integer(), nullable=True),
        sa.Column("post_id", sa.Integer(), nullable=True),
        sa.Column("workshop_id", sa.Integer(), nullable=True),
        sa.Column("programme_id", sa.Integer(), nullable=True),
        sa.Column("participant_id", sa.Integer(), nullable=True),
        _string("about_name", 60),
        sa.Column("post_text", sa.Text(), nullable=False),
        sa.Column("signals", sa.JSON(), nullable=False),
        sa.Column("report_detail", sa.Text(), nullable=True),
        _when("created_at", nullable=False),
        _when("updated_at", nullable=False),
        _when("opened_at"),
        _when("escalated_at"),
        _when("closed_at"),
        _fk("concern", "participant_id", "participant", "SET NULL"),
        _fk("concern", "post_id", "post", "SET NULL"),
        _fk("concern", "programme_id", "programme", "SET NULL"),
        _fk("concern", "space_id", "space", "SET NULL"),
        _fk("concern", "workshop_id", "workshop", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_concern")),
    )
    _indexes(
        "concern",
        "opened_at",
        "participant_id",
        "post_id",
        "programme_id",
        "space_id",
        "status",
        "workshop_id",
    )

    op.create_table(
        "concern_note",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("concern_id", sa.Integer(), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=True),
        _string("author_name", 120, nullable=True),
        sa.Column("kind", _string_enum(NOTE_KINDS, "kind"), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        _when("created_at", nullable=False),
        _fk("concern_note", "concern_id", "concern", "CASCADE"),
        _fk("concern_note", "staff_id", "staff_user", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_concern_note")),
    )
    _indexes("concern_note", "concern_id", "staff_id")


def downgrade() -> None:
    for table in (
        "concern_note",
        "concern",
        "screen_term",
        "space_removal",
        "report",
        "reaction",
        "post",
        "thread",
        "space",
    ):
        op.drop_table(table)
