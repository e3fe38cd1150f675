"""The JSON API: routers from each app, one error format, two ways to log in."""

from __future__ import annotations

from django.http import Http404, HttpRequest
from ninja import NinjaAPI
from ninja.errors import AuthenticationError
from ninja.errors import HttpError as NinjaHttpError
from ninja.errors import ValidationError as NinjaValidationError

from shanzhi.accounts.api import router as tokens_router
from shanzhi.accounts.auth import BearerToken, Session
from shanzhi.analytics.api import router as command_router
from shanzhi.cases.api import router as inbox_router
from shanzhi.core.api import router as calendar_router
from shanzhi.core.errors import DomainError, NotAuthenticated, NotFound
from shanzhi.core.input import ERROR_STATUSES, ErrorOut
from shanzhi.geo.api import router as geo_router
from shanzhi.incidents.api import router as incidents_router
from shanzhi.intake.api import router as places_router
from shanzhi.mediation.api import router as mediation_router
from shanzhi.patrols.api import router as patrols_router
from shanzhi.registry.api import router as registry_router


class ShanzhiAPI(NinjaAPI):
    """The schema documents every error an operation can answer: each
    operation lists its own (``core.input.errors``); 400 (any input may be
    refused, even by the middleware in ``core/input.py``), 401 (for an
    operation that needs credentials) and 413 (for a write: a body over
    ``REQUEST_MAX_BYTES``) are added where missing, each with the one error
    model."""

    def get_openapi_schema(self, *args, **kwargs):
        schema = super().get_openapi_schema(*args, **kwargs)
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        if "ErrorOut" not in components:
            components["ErrorOut"] = _error_component(components)
        error = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorOut"}}}
        for operations in schema["paths"].values():
            for method, operation in operations.items():
                responses = operation.setdefault("responses", {})
                statuses = {400} | ({401} if operation.get("security") else set())
                if method in ("post", "put", "patch"):
                    statuses.add(413)  # core.middleware.RequestSizeMiddleware
                for status in statuses - {int(code) for code in responses}:
                    responses[status] = {"description": "", "content": error}
                for status, response in responses.items():
                    if int(status) in ERROR_STATUSES:
                        response["description"] = ERROR_STATUSES[int(status)]
        return schema


def _error_component(components: dict) -> dict:
    """ErrorOut and ErrorBody as components (when no operation named them)."""
    schema = ErrorOut.model_json_schema(ref_template="#/components/schemas/{model}")
    components.update(schema.pop("$defs", {}))
    return schema


api = ShanzhiAPI(
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


#: The first part of a validation error's location: where, not which field.
PARAMETER_SOURCES = ("query", "body", "path", "header", "cookie", "form")


@api.exception_handler(NinjaValidationError)
def invalid_request(request, exc: NinjaValidationError):
    first = exc.errors[0] if exc.errors else {}
    loc = [str(part) for part in first.get("loc", []) if part not in PARAMETER_SOURCES]
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
api.add_router("/", mediation_router)
api.add_router("/", patrols_router)
api.add_router("/", registry_router)
api.add_router("/", places_router)
api.add_router("/", inbox_router)
api.add_router("/command/", command_router)
api.add_router("/tokens/", tokens_router)
