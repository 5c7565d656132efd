"""The incident core: the incident and task lifecycles (the machines of `state_machines/`),
the escalation policy across the three tiers, step deadlines, routing (which jurisdiction
holds a point), picking the nearest responders, and responders' status and positions.

The machines (`incidents`, planned by `incident_planning`; `tasks`) record a change and return
its follow-ups (`change`); `escalation` is the one orchestrator that runs them and acts on
those, picking responders through `assignment`. Nothing here imports upward.

Runs inside the writer's transactions. May import: `dispatch.shared`, `dispatch.config`,
`dispatch.events`, `dispatch.storage`, `state_machines`.
"""
