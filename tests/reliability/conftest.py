"""The toy project fixture lives in tests/conftest.py (shared with the scale tests)."""
