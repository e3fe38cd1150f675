"""The JSON API: routers from each app, one error format, two ways to log in."""

from __future__ import annotations

from django.http import Http404, HttpRequest
from ninja import NinjaAPI
from ninja.errors import AuthenticationError
from ninja.errors import HttpError as NinjaHttpError
from ninja.errors import ValidationError as NinjaValidationError

from shanzhi.accounts.auth import BearerToken, Session
from shanzhi.analytics.api import router as command_router
from shanzhi.core.api import router as calendar_router
from shanzhi.core.errors import DomainError, NotAuthenticated, NotFound
from shanzhi.geo.api import router as geo_router
from shanzhi.incidents.api import router as incidents_router

api = NinjaAPI(
    title="善治 shanzhi API",
    version="1",
    urls_namespace="api",
    auth=[BearerToken(), Session()],
    docs_url="/docs",
)


def _error(request: HttpRequest, exc: DomainError):
    return api.create_response(request, exc.as_dict(), status=exc.status)


@api.exception_handler(DomainError)
def domain_error(request, exc: DomainError):
    return _error(request, exc)


@api.exception_handler(NinjaValidationError)
def invalid_request(request, exc: NinjaValidationError):
    first = exc.errors[0] if exc.errors else {}
    loc = [str(part) for part in first.get("loc", []) if part not in ("query", "body", "path")]
    field = ".".join(loc) or None
    message = first.get("msg", "invalid request")
    return _error(request, DomainError(f"{field}: {message}" if field else message, field=field,
                                       details={"errors": exc.errors}))


@api.exception_handler(AuthenticationError)
def not_authenticated(request, exc):
    return _error(request, NotAuthenticated(
        "log in, or send Authorization: Bearer <token>"))


@api.exception_handler(Http404)
def not_found(request, exc):
    return _error(request, NotFound("not found"))


@api.exception_handler(NinjaHttpError)
def http_error(request, exc: NinjaHttpError):
    error = DomainError(str(exc), code="http_error")
    error.status = exc.status_code
    return _error(request, error)


api.add_router("/geo/", geo_router)
api.add_router("/calendar/", calendar_router)
api.add_router("/", incidents_router)
api.add_router("/command/", command_router)
