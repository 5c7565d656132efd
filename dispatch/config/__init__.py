"""config.yaml as typed, checked values: jurisdictions (city → town → street), departments,
categories, policies, responders, gateways, screens, metrics and mutual aid.

May import: `dispatch.shared`.
"""
