"""Low-level helpers the apps share: row SQL, the Redis cache client, the pooled
ASGI handler, metric definitions, request helpers and log hygiene.

This package imports no app (tests/test_architecture.py checks it). Every override of a framework's
internals lives here, says what it replaces and what it buys, and has a test that fails when the
upstream behaviour it relies on changes (tests/test_framework_overrides.py).
"""
