"""Everything that touches the database: the tables, the single writer thread (group
commit, savepoints), the hash-chained audit ledger and its key, the typed reads used by the
screens and the API, schema migrations, and the database's health.

Nothing outside this package opens a connection or calls the writer's internals.

May import: `dispatch.shared`, `dispatch.config`, `dispatch.events`, `state_machines`.
"""
