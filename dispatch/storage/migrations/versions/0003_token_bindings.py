"""gateway tokens bound to sources and CAP senders

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 06:08:43.574544
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("token", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sources", sa.JSON(none_as_null=True), nullable=True))
        batch_op.add_column(sa.Column("cap_senders", sa.JSON(none_as_null=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("token", schema=None) as batch_op:
        batch_op.drop_column("cap_senders")
        batch_op.drop_column("sources")
