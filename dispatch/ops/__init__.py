"""Operating the server: Prometheus metrics (which the service counts into) and the checks
`dispatch serve` makes before it starts.

Sits beside the service: may import `dispatch.intake` and everything below it; nothing of the
service, the hub, `web` or `gateways`.
"""
