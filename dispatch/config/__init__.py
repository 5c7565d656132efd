"""config.yaml as typed, checked values: jurisdictions (city → town → street), departments,
categories, policies, responders, gateways, screens, metrics, server settings and mutual aid,
one module per section; `document.py` is the whole file and its cross-section checks,
`loader.py` reads it, and `model.py` names every model for the rest of the server.

May import: `dispatch.shared`.
"""
