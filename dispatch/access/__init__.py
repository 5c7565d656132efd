"""Who may do what: principals (`principal.py`) and bearer tokens (`auth.py`, `tokens.py`),
people's accounts and sessions, admins' second factor, whom a gateway speaks for (`binding.py`,
`speaks_for.py`), the credential watch, and the authorization rules (`authz.py`).

May import: `dispatch.shared`, `dispatch.config`, `dispatch.events`, `dispatch.storage`,
`state_machines`.
"""
