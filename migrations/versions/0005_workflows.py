"""workflows: campaigns, states, values, events

Revision ID: 0005_workflows
Revises: 0004_forms
Create Date: 2026-11-21 06:10:31.866203
"""
from alembic import op
import sqlalchemy as sa


revision = '0005_workflows'
down_revision = '0004_forms'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('campaigns',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=160), nullable=False),
    sa.Column('school_year_id', sa.Integer(), nullable=False),
    sa.Column('root_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('unit_form_key', sa.String(length=80), nullable=False),
    sa.Column('unit_form_version', sa.Integer(), nullable=False),
    sa.Column('class_form_key', sa.String(length=80), nullable=False),
    sa.Column('class_form_version', sa.Integer(), nullable=False),
    sa.Column('extended_form_key', sa.String(length=80), nullable=False),
    sa.Column('extended_form_version', sa.Integer(), nullable=False),
    sa.Column('ruleset_key', sa.String(length=80), nullable=False),
    sa.Column('ruleset_version', sa.Integer(), nullable=False),
    sa.Column('opens_on', sa.Date(), nullable=True),
    sa.Column('deadline', sa.Date(), nullable=False),
    sa.Column('invitation', sa.Text(), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('launched_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('archived_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("status IN ('draft','running','closed','archived')", name=op.f('ck_campaigns_status')),
    sa.CheckConstraint('opens_on IS NULL OR opens_on <= deadline', name=op.f('ck_campaigns_calendar')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_campaigns_created_by_id_users'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['root_id'], ['nodes.id'], name=op.f('fk_campaigns_root_id_nodes'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['school_year_id'], ['school_years.id'], name=op.f('fk_campaigns_school_year_id_school_years'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_campaigns'))
    )
    op.create_table('campaign_states',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('campaign_id', sa.Integer(), nullable=False),
    sa.Column('level', sa.String(length=12), nullable=False),
    sa.Column('node_id', sa.Integer(), nullable=False),
    sa.Column('class_id', sa.Integer(), nullable=True),
    sa.Column('parent_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('path', sa.String(length=80), nullable=False),
    sa.Column('county_id', sa.Integer(), nullable=True),
    sa.Column('school_id', sa.Integer(), nullable=True),
    sa.Column('state', sa.String(length=12), nullable=False),
    sa.Column('locked', sa.Boolean(), nullable=False),
    sa.Column('excluded', sa.Boolean(), nullable=False),
    sa.Column('exclusion_reason', sa.Text(), nullable=True),
    sa.Column('extended', sa.String(length=10), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("(level = 'class') = (class_id IS NOT NULL)", name=op.f('ck_campaign_states_class_row')),
    sa.CheckConstraint("extended IN ('none','requested','submitted')", name=op.f('ck_campaign_states_extended')),
    sa.CheckConstraint("level IN ('inspectorate','school','unit','class')", name=op.f('ck_campaign_states_level')),
    sa.CheckConstraint("state IN ('not_started','in_progress','submitted')", name=op.f('ck_campaign_states_state')),
    sa.CheckConstraint('excluded = false OR exclusion_reason IS NOT NULL', name=op.f('ck_campaign_states_exclusion_reason')),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaigns.id'], name=op.f('fk_campaign_states_campaign_id_campaigns'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['class_id'], ['classes.id'], name=op.f('fk_campaign_states_class_id_classes'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['county_id'], ['nodes.id'], name=op.f('fk_campaign_states_county_id_nodes')),
    sa.ForeignKeyConstraint(['node_id'], ['nodes.id'], name=op.f('fk_campaign_states_node_id_nodes'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['parent_id'], ['campaign_states.id'], name=op.f('fk_campaign_states_parent_id_campaign_states'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['school_id'], ['nodes.id'], name=op.f('fk_campaign_states_school_id_nodes')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_campaign_states')),
    sa.UniqueConstraint('campaign_id', 'path', name='uq_campaign_states_campaign_path')
    )
    op.create_index('ix_campaign_states_campaign_county', 'campaign_states', ['campaign_id', 'county_id', 'level', 'state'], unique=False)
    op.create_index('ix_campaign_states_campaign_node', 'campaign_states', ['campaign_id', 'node_id'], unique=False)
    op.create_index('ix_campaign_states_campaign_parent', 'campaign_states', ['campaign_id', 'parent_id', 'state'], unique=False)
    op.create_index('ix_campaign_states_campaign_path', 'campaign_states', ['campaign_id', 'path'], unique=False, postgresql_ops={'path': 'text_pattern_ops'})
    op.create_index(op.f('ix_campaign_states_class_id'), 'campaign_states', ['class_id'], unique=False)
    op.create_table('campaign_values',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('campaign_id', sa.Integer(), nullable=False),
    sa.Column('state_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('section', sa.String(length=10), nullable=False),
    sa.Column('values', sa.JSON(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('updated_by', sa.String(length=80), nullable=True),
    sa.CheckConstraint("section IN ('unit','class','extended')", name=op.f('ck_campaign_values_section')),
    sa.CheckConstraint('version >= 0', name=op.f('ck_campaign_values_version')),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaigns.id'], name=op.f('fk_campaign_values_campaign_id_campaigns'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['state_id'], ['campaign_states.id'], name=op.f('fk_campaign_values_state_id_campaign_states'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_campaign_values')),
    sa.UniqueConstraint('state_id', 'section', name='uq_campaign_values_state_section')
    )
    op.create_index('ix_campaign_values_campaign_section', 'campaign_values', ['campaign_id', 'section'], unique=False)
    op.create_table('workflow_events',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('campaign_id', sa.Integer(), nullable=False),
    sa.Column('state_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('action', sa.String(length=24), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('actor', sa.String(length=80), nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('before', sa.JSON(), nullable=True),
    sa.Column('after', sa.JSON(), nullable=True),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaigns.id'], name=op.f('fk_workflow_events_campaign_id_campaigns'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['state_id'], ['campaign_states.id'], name=op.f('fk_workflow_events_state_id_campaign_states'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_workflow_events_user_id_users'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_workflow_events'))
    )
    op.create_index(op.f('ix_workflow_events_campaign_id'), 'workflow_events', ['campaign_id'], unique=False)
    op.create_index('ix_workflow_events_state_at', 'workflow_events', ['state_id', 'id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_workflow_events_state_at', table_name='workflow_events')
    op.drop_index(op.f('ix_workflow_events_campaign_id'), table_name='workflow_events')
    op.drop_table('workflow_events')
    op.drop_index('ix_campaign_values_campaign_section', table_name='campaign_values')
    op.drop_table('campaign_values')
    op.drop_index(op.f('ix_campaign_states_class_id'), table_name='campaign_states')
    op.drop_index('ix_campaign_states_campaign_path', table_name='campaign_states', postgresql_ops={'path': 'text_pattern_ops'})
    op.drop_index('ix_campaign_states_campaign_parent', table_name='campaign_states')
    op.drop_index('ix_campaign_states_campaign_node', table_name='campaign_states')
    op.drop_index('ix_campaign_states_campaign_county', table_name='campaign_states')
    op.drop_table('campaign_states')
    op.drop_table('campaigns')
