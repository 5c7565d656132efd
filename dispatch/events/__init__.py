"""The domain's past-tense events (one frozen class per kind of change, the audit log's rows),
kept by subject (`alerts`, `incidents`, `tasks`, `access`, on the envelope of `base`) and
reached through `catalog`, and the in-process bus that hands committed events to whoever
listens.

May import: `dispatch.shared`, `dispatch.config`.
"""
