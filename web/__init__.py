"""The aiohttp application: REST API, WebSocket, the people's pages; web/app.py builds it."""
