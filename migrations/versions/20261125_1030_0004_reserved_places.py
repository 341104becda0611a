"""Reserved places: staff give a place kept back from public sign-up

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25 10:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Existing sign-ups were all public: false for every one of them.
    with op.batch_alter_table("sign_up", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("reserved", sa.Boolean(), server_default=sa.false(), nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("sign_up", schema=None) as batch_op:
        batch_op.drop_column("reserved")
