"""Errors a source raises. Every message is a sentence a user can act on and never holds a key."""

from __future__ import annotations


class SourceError(Exception):
    """A source could not deliver what was asked."""


class MalformedResponse(SourceError):
    """The answer arrived but is not in the documented shape (bad JSON, wrong CSV header...)."""


class AuthError(SourceError):
    """The provider rejected the API key (401): nothing will work until the user fixes it."""


class PermissionDenied(SourceError):
    """The key is valid but the plan lacks this endpoint or table (403)."""


class RateLimited(SourceError):
    """The provider refused for lack of credits or requests (429) and retrying did not help."""


class ServiceError(SourceError):
    """The provider failed (5xx, timeout, connection) and retries ran out."""


class NoOptions(SourceError):
    """The provider lists no options for this underlying (Cboe: 403/404 for the chain)."""
