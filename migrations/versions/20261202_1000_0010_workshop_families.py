"""Workshops for families and facilitators: the room's words, travel, how people come,
reserved-place reasons, a parent's yes recorded by staff, what staff last saw, erased links

Revision ID: 0010_workshop_families
Revises: 0009_spaces
Create Date: 2026-12-02 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import app.db

revision: str = "0010_workshop_families"
down_revision: str | None = "0009_spaces"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _string(name: str, length: int) -> sa.Column:
    return sa.Column(name, sqlmodel.sql.sqltypes.AutoString(length=length), nullable=True)


def upgrade() -> None:
    with op.batch_alter_table("workshop", schema=None) as batch_op:
        batch_op.add_column(sa.Column("today_plan", sa.Text(), nullable=True))
        batch_op.add_column(_string("toilets", 300))
        batch_op.add_column(_string("quiet_space", 300))
        # No existing workshop paid travel through Heard: false for every one of them.
        batch_op.add_column(
            sa.Column("pays_travel", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
    with op.batch_alter_table("sign_up", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reserved_reason", sa.Text(), nullable=True))
        batch_op.add_column(_string("attend_mode", 20))
        batch_op.add_column(sa.Column("wants_travel_costs", sa.Boolean(), nullable=True))
    with op.batch_alter_table("consent", schema=None) as batch_op:
        batch_op.add_column(_string("given_how", 20))
        batch_op.add_column(sa.Column("recorded_by_staff_id", sa.Integer(), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_consent_recorded_by_staff_id"), ["recorded_by_staff_id"], unique=False
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_consent_recorded_by_staff_id_staff_user"),
            "staff_user",
            ["recorded_by_staff_id"],
            ["id"],
            ondelete="SET NULL",
        )
    op.create_table(
        "workshop_seen",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workshop_id", sa.Integer(), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column("seen_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["staff_id"],
            ["staff_user.id"],
            name=op.f("fk_workshop_seen_staff_id_staff_user"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["workshop_id"],
            ["workshop.id"],
            name=op.f("fk_workshop_seen_workshop_id_workshop"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_workshop_seen")),
        sa.UniqueConstraint(
            "workshop_id", "staff_id", name=op.f("uq_workshop_seen_workshop_id_staff_id")
        ),
    )
    with op.batch_alter_table("workshop_seen", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_workshop_seen_staff_id"), ["staff_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_workshop_seen_workshop_id"), ["workshop_id"], unique=False
        )
    op.create_table(
        "erased_link",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("erased_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_erased_link")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_erased_link_token_hash")),
    )


def downgrade() -> None:
    op.drop_table("erased_link")
    with op.batch_alter_table("workshop_seen", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_workshop_seen_workshop_id"))
        batch_op.drop_index(batch_op.f("ix_workshop_seen_staff_id"))
    op.drop_table("workshop_seen")
    with op.batch_alter_table("consent", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_consent_recorded_by_staff_id_staff_user"), type_="foreignkey"
        )
        batch_op.drop_index(batch_op.f("ix_consent_recorded_by_staff_id"))
        batch_op.drop_column("recorded_by_staff_id")
        batch_op.drop_column("given_how")
    with op.batch_alter_table("sign_up", schema=None) as batch_op:
        batch_op.drop_column("wants_travel_costs")
        batch_op.drop_column("attend_mode")
        batch_op.drop_column("reserved_reason")
    with op.batch_alter_table("workshop", schema=None) as batch_op:
        batch_op.drop_column("pays_travel")
        batch_op.drop_column("quiet_space")
        batch_op.drop_column("toilets")
        batch_op.drop_column("today_plan")
