"""Fixtures for the licensing tests: `announced` lives in tests/conftest.py (the user page uses it too)."""
