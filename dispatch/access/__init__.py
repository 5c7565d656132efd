"""Who may do what: principals and bearer tokens, people's accounts and sessions, admins'
second factor, whom a gateway speaks for, and the authorization rules (`authz.py`).

May import: `dispatch.shared`, `dispatch.config`, `dispatch.events`, `dispatch.storage`,
`state_machines`.
"""
