"""forms engine: form definitions, rulesets, nomenclatures

Revision ID: 0004_forms
Revises: 0003_invitations
"""
from alembic import op
import sqlalchemy as sa

revision = "0004_forms"
down_revision = "0003_invitations"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('form_definitions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=80), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('scope', sa.String(length=10), nullable=False),
    sa.Column('body', sa.JSON(), nullable=False),
    sa.Column('checksum', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('origin', sa.String(length=10), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("origin IN ('builtin','admin')", name=op.f('ck_form_definitions_origin')),
    sa.CheckConstraint("scope IN ('unit','class','extended')", name=op.f('ck_form_definitions_scope')),
    sa.CheckConstraint("status IN ('draft','published')", name=op.f('ck_form_definitions_status')),
    sa.CheckConstraint('version >= 1', name=op.f('ck_form_definitions_version')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_form_definitions')),
    sa.UniqueConstraint('key', 'version', name='uq_form_definitions_key_version')
    )
    with op.batch_alter_table('form_definitions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_form_definitions_key'), ['key'], unique=False)

    op.create_table('rulesets',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=80), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('params', sa.JSON(), nullable=False),
    sa.Column('checksum', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('origin', sa.String(length=10), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("origin IN ('builtin','admin')", name=op.f('ck_rulesets_origin')),
    sa.CheckConstraint("status IN ('draft','published')", name=op.f('ck_rulesets_status')),
    sa.CheckConstraint('version >= 1', name=op.f('ck_rulesets_version')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_rulesets')),
    sa.UniqueConstraint('key', 'version', name='uq_rulesets_key_version')
    )
    with op.batch_alter_table('rulesets', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_rulesets_key'), ['key'], unique=False)

    op.create_table('nomenclatures',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=60), nullable=False),
    sa.Column('title', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_nomenclatures')),
    sa.UniqueConstraint('key', name=op.f('uq_nomenclatures_key'))
    )
    op.create_table('nomenclature_items',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('nomenclature_id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('label', sa.JSON(), nullable=False),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['nomenclature_id'], ['nomenclatures.id'],
                            name=op.f('fk_nomenclature_items_nomenclature_id_nomenclatures'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_nomenclature_items')),
    sa.UniqueConstraint('nomenclature_id', 'code', name='uq_nomenclature_items_nomenclature_code')
    )
    with op.batch_alter_table('nomenclature_items', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_nomenclature_items_nomenclature_id'), ['nomenclature_id'],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table('nomenclature_items', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_nomenclature_items_nomenclature_id'))
    op.drop_table('nomenclature_items')
    op.drop_table('nomenclatures')
    with op.batch_alter_table('rulesets', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_rulesets_key'))
    op.drop_table('rulesets')
    with op.batch_alter_table('form_definitions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_form_definitions_key'))
    op.drop_table('form_definitions')
