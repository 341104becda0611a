"""Programme updates: drafts, who they were emailed to; "Keep me updated" subscriptions;
extra headers on outbox emails (List-Unsubscribe)

Revision ID: 0012_subscriptions
Revises: 0011_rounds
Create Date: 2026-12-02 12:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import app.db

revision: str = "0012_subscriptions"
down_revision: str | None = "0011_rounds"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _string(name: str, length: int, *, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sqlmodel.sql.sqltypes.AutoString(length=length), nullable=nullable)


def _when(name: str, *, nullable: bool = True) -> sa.Column:
    return sa.Column(name, app.db.UTCDateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "programme_subscription",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("programme_id", sa.Integer(), nullable=False),
        _string("email", 254),
        _string("email_key", 64),
        sa.Column(
            "status",
            sa.Enum(
                "pending",
                "confirmed",
                "unsubscribed",
                name="subscription_status",
                native_enum=False,
                create_constraint=True,
                length=20,
            ),
            server_default="pending",
            nullable=False,
        ),
        sa.Column("participant_id", sa.Integer(), nullable=True),
        _string("confirm_token_hash", 64, nullable=True),
        _when("confirm_expires_at"),
        _when("confirm_sent_at"),
        _when("confirmed_at"),
        _when("unsubscribed_at"),
        _string("nonce", 64),
        _string("unsubscribe_hash", 64),
        _when("created_at", nullable=False),
        sa.ForeignKeyConstraint(
            ["participant_id"],
            ["participant.id"],
            name=op.f("fk_programme_subscription_participant_id_participant"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["programme_id"],
            ["programme.id"],
            name=op.f("fk_programme_subscription_programme_id_programme"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_programme_subscription")),
        sa.UniqueConstraint(
            "confirm_token_hash", name=op.f("uq_programme_subscription_confirm_token_hash")
        ),
        sa.UniqueConstraint(
            "programme_id",
            "email_key",
            name=op.f("uq_programme_subscription_programme_id_email_key"),
        ),
        sa.UniqueConstraint(
            "unsubscribe_hash", name=op.f("uq_programme_subscription_unsubscribe_hash")
        ),
    )
    with op.batch_alter_table("programme_subscription", schema=None) as batch_op:
        for column in ("email_key", "participant_id", "programme_id"):
            batch_op.create_index(
                batch_op.f(f"ix_programme_subscription_{column}"), [column], unique=False
            )

    with op.batch_alter_table("outbox_email", schema=None) as batch_op:
        batch_op.add_column(sa.Column("headers", sa.JSON(), server_default="{}", nullable=False))

    # Updates written before drafts existed were published when written.
    with op.batch_alter_table("programme_update", schema=None) as batch_op:
        batch_op.add_column(_when("created_at"))
        batch_op.add_column(_when("emailed_at"))
        batch_op.add_column(sa.Column("queued_up_to", sa.Integer(), nullable=True))
    op.execute("UPDATE programme_update SET created_at = published_at")
    with op.batch_alter_table("programme_update", schema=None) as batch_op:
        batch_op.alter_column(
            "created_at", existing_type=app.db.UTCDateTime(timezone=True), nullable=False
        )
        batch_op.alter_column(
            "published_at", existing_type=app.db.UTCDateTime(timezone=True), nullable=True
        )


def downgrade() -> None:
    op.execute("DELETE FROM programme_update WHERE published_at IS NULL")
    with op.batch_alter_table("programme_update", schema=None) as batch_op:
        batch_op.alter_column(
            "published_at", existing_type=app.db.UTCDateTime(timezone=True), nullable=False
        )
        batch_op.drop_column("queued_up_to")
        batch_op.drop_column("emailed_at")
        batch_op.drop_column("created_at")
    with op.batch_alter_table("outbox_email", schema=None) as batch_op:
        batch_op.drop_column("headers")
    with op.batch_alter_table("programme_subscription", schema=None) as batch_op:
        for column in ("programme_id", "participant_id", "email_key"):
            batch_op.drop_index(batch_op.f(f"ix_programme_subscription_{column}"))
    op.drop_table("programme_subscription")
