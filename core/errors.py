"""Domain errors; the web and API layers map them to 404/403/409/422."""
from __future__ import annotations


class DomainError(Exception):
    code = "error"
    status = 400

    def __init__(self, message: str = "", details=None):
        super().__init__(message or self.code)
        self.message = message or self.code
        self.details = details


class NotFound(DomainError):
    """Missing, or outside the caller's subtree — the two are deliberately indistinguishable."""
    code, status = "not_found", 404


class Forbidden(DomainError):
    """Visible to the caller, but their role may not do this."""
    code, status = "forbidden", 403


class Conflict(DomainError):
    """The current state forbids the action (stale version, locked node, …)."""
    code, status = "conflict", 409


class Invalid(DomainError):
    """Input that fails validation; ``details`` names the fields or rows."""
    code, status = "invalid", 422
