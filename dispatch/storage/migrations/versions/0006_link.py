"""the prefecture link: county incidents and messages, instructions

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 14:01:42.994174
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "instruction",
        sa.Column("identifier", sa.String(), nullable=False),
        sa.Column("direction", sa.String(), nullable=False),
        sa.Column("incident_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("county", sa.String(), nullable=False),
        sa.Column("county_incident_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("sender", sa.String(), nullable=False),
        sa.Column("sent_at", sa.Float(), nullable=False),
        sa.Column("message_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("acknowledged_at", sa.Float(), nullable=True),
        sa.Column("acknowledged_by", sa.String(), nullable=True),
        sa.PrimaryKeyConstraint("identifier"),
    )
    with op.batch_alter_table("instruction", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_instruction_acknowledged_at"), ["acknowledged_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_instruction_incident_id"), ["incident_id"], unique=False)

    op.create_table(
        "link_incident",
        sa.Column("sender", sa.String(), nullable=False),
        sa.Column("county_incident_id", sa.String(), nullable=False),
        sa.Column("incident_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("sender", "county_incident_id"),
    )
    with op.batch_alter_table("link_incident", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_link_incident_incident_id"), ["incident_id"], unique=False)

    op.create_table(
        "link_message",
        sa.Column("sender", sa.String(), nullable=False),
        sa.Column("identifier", sa.String(), nullable=False),
        sa.Column("msg_type", sa.String(), nullable=False),
        sa.Column("incident_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("received_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("sender", "identifier"),
    )


def downgrade() -> None:

    op.drop_table("link_message")
    with op.batch_alter_table("link_incident", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_link_incident_incident_id"))

    op.drop_table("link_incident")
    with op.batch_alter_table("instruction", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_instruction_incident_id"))
        batch_op.drop_index(batch_op.f("ix_instruction_acknowledged_at"))

    op.drop_table("instruction")
