"""Outbox emails keep an HTML part beside the text (sent as multipart/alternative)

Revision ID: 0013_email_html
Revises: 0012_subscriptions
Create Date: 2026-12-02 13:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013_email_html"
down_revision: str | None = "0012_subscriptions"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Nullable: emails queued before this have no HTML part and are sent as text only.
    with op.batch_alter_table("outbox_email", schema=None) as batch_op:
        batch_op.add_column(sa.Column("body_html", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("outbox_email", schema=None) as batch_op:
        batch_op.drop_column("body_html")
