"""What the commands share: the config file --config names, and the audit key."""

from __future__ import annotations

import argparse
import os

from dispatch.config.model import Config, load_config
from dispatch.storage.audit_key import ENVIRONMENT as AUDIT_KEY_ENVIRONMENT
from dispatch.storage.audit_key import AuditKey, load_key


def load(args: argparse.Namespace) -> Config:
    return load_config(args.config)


def audit_key(args: argparse.Namespace, config: Config | None, *, create: bool) -> AuditKey:
    """The audit key: DISPATCH_AUDIT_KEY, else audit.key_file, else the SQLite database's own."""
    environment = os.environ.get(AUDIT_KEY_ENVIRONMENT)
    if not environment and config is None:
        config = load(args)
    key_file = config.audit.key_file if config is not None else None
    return load_key(key_file, args.database, environment, create=create)
