"""`dispatch mqtt-acl`: the broker's ACL and password files written from config.yaml."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from dispatch.cli.settings import load
from gateways import mqtt_acl


def mqtt_acl_command(args: argparse.Namespace) -> int:
    accounts = mqtt_acl.accounts(load(args))
    names = [account.name for account in accounts]
    unknown = [name for name in args.rotate if name not in names]
    if unknown:
        print(f"error: --rotate: no MQTT account {unknown[0]!r} in the config", file=sys.stderr)
        return 2
    acl, passwords = Path(args.acl).resolve(), Path(args.passwords).resolve()
    update = mqtt_acl.update_passwords(names, mqtt_acl.read_password_file(passwords), args.rotate)
    mqtt_acl.write_file(passwords, mqtt_acl.render_password_file(update.hashes), 0o600)
    mqtt_acl.write_file(acl, mqtt_acl.render_acl(accounts), 0o644)
    # Passwords alone on stdout, so `dispatch mqtt-acl > new-passwords` captures just them.
    for name, password in update.new_passwords.items():
        print(f"{name} {password}")
    print(
        f"dispatch: {len(names)} MQTT accounts, {len(update.new_passwords)} new (passwords on stdout, "
        "shown this once)\n"
        f"  ACL: {acl}\n  passwords: {passwords}\n"
        "mosquitto.conf (restart the broker; the files must be readable by the broker's user):\n"
        + "\n".join(f"  {line}" for line in mqtt_acl.broker_settings(acl, passwords)),
        file=sys.stderr,
    )
    return 0
