"""departments: department tasks (协办), and tokens and accounts scoped to a department

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 14:00:42.724377
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "department_task",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=False, nullable=False
        ),
        sa.Column("incident_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("department_id", sa.String(), nullable=False),
        sa.Column("state", sa.String(), nullable=False),
        sa.Column("reason", sa.String(), nullable=True),
        sa.Column("accept_by", sa.Float(), nullable=True),
        sa.Column("escalated", sa.Boolean(), nullable=False),
        sa.Column("milestones", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("department_task", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_department_task_accept_by"), ["accept_by"], unique=False)
        batch_op.create_index(batch_op.f("ix_department_task_department_id"), ["department_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_department_task_incident_id"), ["incident_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_department_task_state"), ["state"], unique=False)

    with op.batch_alter_table("token", schema=None) as batch_op:
        batch_op.add_column(sa.Column("department_id", sa.String(), nullable=True))

    with op.batch_alter_table("user_account", schema=None) as batch_op:
        batch_op.add_column(sa.Column("department_id", sa.String(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("user_account", schema=None) as batch_op:
        batch_op.drop_column("department_id")

    with op.batch_alter_table("token", schema=None) as batch_op:
        batch_op.drop_column("department_id")

    with op.batch_alter_table("department_task", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_department_task_state"))
        batch_op.drop_index(batch_op.f("ix_department_task_incident_id"))
        batch_op.drop_index(batch_op.f("ix_department_task_department_id"))
        batch_op.drop_index(batch_op.f("ix_department_task_accept_by"))

    op.drop_table("department_task")
