"""Alerts the benchmarks send: one generator over the config's city, in the mixes they need."""
