"""The words every part of the server shares: the clock (real or driven by tests), the
errors a request can meet and their one JSON body, positions and distances on the map, and
WebSocket frames encoded once for every socket that gets them (`wire_frames.py`).

Imports nothing of `dispatch`.
"""
