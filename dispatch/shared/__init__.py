"""The words every part of the server shares: the clock (real or driven by tests), the
errors a request can meet, and positions on the map.

Imports nothing of `dispatch`.
"""
