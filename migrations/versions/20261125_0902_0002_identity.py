"""Who's who: participants, consents, staff roles and sign-in (issue 3)

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa  # noqa: F401
import sqlmodel  # noqa: F401
from alembic import op  # noqa: F401

import app.db  # noqa: F401

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Issue 3 needed no schema change: participants, consents, staff roles, sign-in links and
    # sessions were created by 0001, and personal-data declarations live in code. The slot
    # stays so the chain 0001 -> 0002 -> 0003 is unchanged.
    pass


def downgrade() -> None:
    pass
