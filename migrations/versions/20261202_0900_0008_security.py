"""Security fixes: the OpenID subject bound to a staff account; emails counted per recipient

Revision ID: 0008_security
Revises: 0007
Create Date: 2026-12-02 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_security"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Empty for everyone: bound at each person's next single sign-on.
    with op.batch_alter_table("staff_user", schema=None) as batch_op:
        batch_op.add_column(sa.Column("oidc_subject", sa.String(length=255), nullable=True))
        batch_op.create_unique_constraint(
            batch_op.f("uq_staff_user_oidc_subject"), ["oidc_subject"]
        )
    # Empty for emails queued before: they are older than any limit's window soon enough.
    with op.batch_alter_table("outbox_email", schema=None) as batch_op:
        batch_op.add_column(sa.Column("recipient_key", sa.String(length=64), nullable=True))
        batch_op.create_index(
            "ix_outbox_email_recipient_key_created_at",
            ["recipient_key", "created_at"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("outbox_email", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_email_recipient_key_created_at")
        batch_op.drop_column("recipient_key")
    with op.batch_alter_table("staff_user", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_staff_user_oidc_subject"), type_="unique")
        batch_op.drop_column("oidc_subject")
