"""The `dispatch` command: serve, db, user, token, audit, simulate and the rest. It is the
composition root of the command line, so it alone may import `web` and `gateways`.
"""
