"""The incident core: the incident and task lifecycles (the machines of `state_machines/`),
the escalation policy across the three tiers, step deadlines, correlation of alerts into
incidents, routing to the nearest responders, and responders' status and positions.

Runs inside the writer's transactions. May import: `dispatch.shared`, `dispatch.config`,
`dispatch.events`, `dispatch.storage`, `state_machines`.
"""
