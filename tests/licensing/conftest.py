"""Fixtures for the licensing tests: `link_sent` lives in tests/conftest.py (the user page uses it too)."""
