"""Operating the server: Prometheus metrics and the checks `dispatch serve` makes before it
starts.

May import: every domain package; nothing of `web` or `gateways`.
"""
