"""A thread's prompt may have a picture (kept outside the web root) with its description

Revision ID: 0014_thread_pictures
Revises: 0013_email_html
Create Date: 2026-12-02 14:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0014_thread_pictures"
down_revision: str | None = "0013_email_html"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("thread", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("picture_key", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True)
        )
        batch_op.add_column(sa.Column("picture_alt", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("picture_width", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("picture_height", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("thread", schema=None) as batch_op:
        batch_op.drop_column("picture_height")
        batch_op.drop_column("picture_width")
        batch_op.drop_column("picture_alt")
        batch_op.drop_column("picture_key")
