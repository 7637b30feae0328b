"""forms engine

Revision ID: 0004_forms
Revises: 0003_invitations
"""
from alembic import op  # noqa: F401
import sqlalchemy as sa  # noqa: F401

revision = "0004_forms"
down_revision = "0003_invitations"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
