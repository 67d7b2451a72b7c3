"""A local stand-in for the messaging platforms, spoken to over real HTTP.

The engine's HTTP channel backends take a base URL; pointing it here lets the demo and the
tests run campaigns end to end without a network. It records every request so tests can
count deliveries per idempotency key, and it can be told to fail in the ways platforms do.
"""
