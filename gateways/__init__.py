"""Gateways: one module per foreign protocol or format, each only translating into an Alert."""
