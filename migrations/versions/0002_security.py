"""second factors, throttling, sessions

Revision ID: 0002_security
Revises: 1d0353136bf5
"""
from alembic import op  # noqa: F401
import sqlalchemy as sa  # noqa: F401

revision = "0002_security"
down_revision = "1d0353136bf5"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
