"""What the domain raises when a rule refuses an operation (the API maps these to 4xx)."""

from __future__ import annotations


class LedgerError(ValueError):
    """A domain rule refused the operation (the message says which)."""


class NotFound(LedgerError):
    """The referenced row does not exist."""
