"""The small error tree of the SFMC client.

Every failure that leaves `sfmc/` is an `SfmcError`. Row-level rejections inside a batch are
data (`RowOutcome`), never exceptions.
"""

from __future__ import annotations

import re

_BODY_LIMIT = 500
_SECRET_PATTERNS = [
    re.compile(r'("?(?:access_token|client_secret|refresh_token)"?\s*[:=]\s*"?)[^"&,\s}]+', re.I),
    re.compile(r"(Bearer\s+)[A-Za-z0-9._\-~+/=]+", re.I),
    re.compile(r"(<(?:\w+:)?fueloauth[^>]*>)[^<]*", re.I),
]


def scrub(text: str | None, *secrets: str | None) -> str:
    """Return `text` cut to a short excerpt with tokens and the given secrets masked."""
    if not text:
        return ""
    out = text
    for pattern in _SECRET_PATTERNS:
        out = pattern.sub(r"\1***", out)
    for secret in secrets:
        if secret:
            out = out.replace(secret, "***")
    if len(out) > _BODY_LIMIT:
        out = out[:_BODY_LIMIT] + "…"
    return out


class SfmcError(Exception):
    """Root of every error raised by the SFMC client.

    Attributes:
        operation: what the client was doing, in words ("create data extension").
        status: HTTP status, when there was a response.
        request_id: SFMC's request id, when it sent one.
        body: a short excerpt of the response, scrubbed of tokens and secrets.
        kind: a machine-readable cause when known ("invalid_client_id", "bad_secret", "dns",
            "unreachable", "tls", "timeout", "throttled", "ip_not_allowed", "scope",
            "token_expired", "not_found"...), used to explain a failed connection test.
    """

    def __init__(
        self,
        message: str,
        *,
        operation: str = "",
        status: int | None = None,
        request_id: str | None = None,
        body: str | None = None,
        kind: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.operation = operation
        self.status = status
        self.request_id = request_id
        self.body = scrub(body)
        self.kind = kind

    def __str__(self) -> str:
        parts = [self.message]
        if self.operation:
            parts.append(f"(while trying to {self.operation})")
        if self.status is not None:
            parts.append(f"[HTTP {self.status}]")
        return " ".join(parts)


class SfmcAuthError(SfmcError):
    """Credentials were refused or the token lacks a needed scope."""


class SfmcConfigError(SfmcError):
    """The connection settings are invalid (Auth Base URI, client id, schema rules...)."""


class SfmcFatalError(SfmcError):
    """SFMC refused the request and retrying the same request will not help (4xx)."""


class SfmcRetriableError(SfmcError):
    """A transient failure: 429, 5xx, SOAP throttling, timeouts, dropped connections."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: object) -> None:
        super().__init__(message, **kwargs)  # type: ignore[arg-type]
        self.retry_after = retry_after
