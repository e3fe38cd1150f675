"""One error hierarchy for the domain; the API and the CLI present it in one
format: ``{"error": {"code": ..., "message": ..., "field": ...}}``."""

from __future__ import annotations


class DomainError(Exception):
    """A failure the caller can understand and act on."""

    status = 400
    code = "invalid"

    def __init__(self, message: str, *, field: str | None = None, code: str | None = None,
                 details: dict | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        if code:
            self.code = code
        self.details = details or {}

    def lines(self) -> list[str]:
        """Detail lines for a command-line report (one per problem)."""
        return []

    def as_dict(self) -> dict:
        error: dict = {"code": self.code, "message": self.message, "field": self.field}
        if self.details:
            error["details"] = self.details
        return {"error": error}


class ValidationError(DomainError):
    status = 400
    code = "invalid"


class NotAuthenticated(DomainError):
    status = 401
    code = "not_authenticated"


class PermissionDenied(DomainError):
    status = 403
    code = "forbidden"


class NotFound(DomainError):
    status = 404
    code = "not_found"


class Conflict(DomainError):
    status = 409
    code = "conflict"


class TooLarge(DomainError):
    """More files, or more bytes, than one request may carry."""

    status = 413
    code = "too_large"
