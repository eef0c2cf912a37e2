"""The dev host's one error type, shared by every part of it."""

from __future__ import annotations


class DevHostError(Exception):
    """The app or its configuration keeps the dev host from starting."""
