"""Alerts coming in: their checked shape (`alerts.py`), limits on what a sender may send,
the queue that batches them into writer transactions, correlation into incidents, and a
sender's later updates, resolutions and cancellations.

May import: the packages below it and `dispatch.core`.
"""
