"""invitations and mail

Revision ID: 0003_invitations
Revises: 0002_security
"""
from alembic import op  # noqa: F401
import sqlalchemy as sa  # noqa: F401

revision = "0003_invitations"
down_revision = "0002_security"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
