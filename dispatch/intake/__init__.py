"""Alerts coming in: their checked shape (`alerts.py`), limits on what a sender may send
(`wire_limits.py`), the queue that batches them into writer transactions (`queue.py`), the
pipeline that dedupes, places and correlates them into incidents or opens new ones
(`pipeline.py`, `correlation.py`, which asks the grid of open incidents in `open_index.py`), a
hotline call joined to its call's alert (`calls.py`), and a
sender's later updates, resolutions and cancellations (`status.py`).

May import: `dispatch.core` and the packages below it.
"""
