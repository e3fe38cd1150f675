"""Hostile input stopped at the door, in one place.

Every request passes :class:`HostileInputMiddleware` before any view: its
path, its query string, its form fields (names and values, never the bytes
of an uploaded file) and its JSON body (after decoding, so ``"\\u0000"`` is a
NUL) must hold no character that a database refuses or an XML document
cannot carry (:data:`FORBIDDEN`), a JSON body no deeper than
:data:`MAX_JSON_DEPTH`, and the path no number but plain ASCII digits within
a database id. Anything else is a 400 before anything is read or written:
``{"error": {"code": "invalid_text", …}}`` under ``/api/``, GeoReport's
``[{"code": 400, "description": …}]`` under ``/open311/``, the 400 page
elsewhere. Under ``/api/`` a 404 or 405 that Django or ninja answered in
HTML becomes the one JSON error format too.

The numbers the API takes (ids, ``limit``, ``offset``, ``zoom``) are
:data:`AsciiInt`: ASCII digits only (``int()`` and pydantic take
``١٢٣``, ``+5``, ``1_0``), within bounds.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable, Iterable, Iterator
from typing import Annotated, Any

from django.core.exceptions import (
    BadRequest,
    RequestDataTooBig,
    TooManyFieldsSent,
    TooManyFilesSent,
)
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.http.multipartparser import MultiPartParserError
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictInt, WithJsonSchema

from .errors import DomainError, NotFound, TooLarge, ValidationError

#: Characters no text may hold: C0 controls but tab, line feed and carriage
#: return (NUL is refused by PostgreSQL; none of them may appear in XML 1.0),
#: lone surrogates (not encodable in UTF-8) and the non-characters U+FFFE/U+FFFF.
FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
#: The deepest JSON body taken (the API's deepest document is 3 levels).
MAX_JSON_DEPTH = 32
#: The largest id a database column holds (a signed 64-bit integer).
MAX_ID = 2**63 - 1
#: The largest ``offset`` of a paged list: deeper pages make the database
#: skip a million rows (seconds on PostgreSQL); narrow the filters instead.
MAX_OFFSET = 1_000_000
#: Headers whose value is stored.
STORED_HEADERS = ("Idempotency-Key",)
ASCII_NUMBER = re.compile(r"[0-9]+\Z")


class InvalidText(ValidationError):
    code = "invalid_text"


class InvalidNumber(ValidationError):
    code = "invalid_number"


# ---------------------------------------------------------------- numbers

def ascii_number(value: Any) -> Any:
    """A pydantic ``BeforeValidator``: a text must be ASCII digits only (an
    int passes to the type's own checks)."""
    if isinstance(value, str) and not ASCII_NUMBER.match(value):
        raise ValueError("must be a whole number written with the digits 0-9")
    return value


#: A whole number in a path or a query: ASCII digits only (bounds are given
#: where it is used: ``Annotated[AsciiInt, Query(ge=1, le=500)]``).
AsciiInt = Annotated[int, BeforeValidator(ascii_number)]
#: An id in a JSON body: a JSON integer (not a text, not a boolean).
Id = Annotated[StrictInt, Field(ge=1, le=MAX_ID)]


def iso_day(value: Any) -> Any:
    """A pydantic ``BeforeValidator``: a day in a query is written YYYY-MM-DD
    (not a number of seconds, not a date and time)."""
    if isinstance(value, str) and not ISO_DAY.match(value):
        raise ValueError("must be a day written YYYY-MM-DD")
    return value


ISO_DAY = re.compile(r"\A[0-9]{4}-[0-9]{2}-[0-9]{2}\Z")
#: A day in a query: ``2026-12-02``.
Day = Annotated[dt.date, BeforeValidator(iso_day), WithJsonSchema(
    {"type": "string", "format": "date"})]


def is_id(text: str) -> bool:
    """Whether ``text`` is an id a database can hold (ASCII digits, ≤ MAX_ID)."""
    return bool(ASCII_NUMBER.match(text)) and 1 <= int(text) <= MAX_ID


# ---------------------------------------------------------------- texts

def _bad_text(field: str) -> InvalidText:
    return InvalidText(_("%(field)s holds a control character, a NUL or an unpaired "
                         "surrogate") % {"field": field}, field=field)


def check_text(value: str, field: str) -> None:
    if FORBIDDEN.search(value):
        raise _bad_text(field)


def _walk(value: Any, field: str, depth: int = 0) -> None:
    """Every key and string of a decoded JSON document, no deeper than allowed."""
    if depth > MAX_JSON_DEPTH:
        raise ValidationError(_("the JSON body is nested deeper than %(depth)d levels")
                              % {"depth": MAX_JSON_DEPTH}, field="body", code="too_deep")
    if isinstance(value, str):
        check_text(value, field)
    elif isinstance(value, dict):
        for key, item in value.items():
            check_text(key, field)
            _walk(item, key if depth == 0 else f"{field}.{key}", depth + 1)
    elif isinstance(value, list):
        for item in value:
            _walk(item, field, depth + 1)


def _check_path(path: str) -> None:
    check_text(path, "path")
    for segment in path.split("/"):
        if any(c.isdigit() and not c.isascii() for c in segment):
            raise InvalidNumber(_("numbers in the address must use the digits 0-9"),
                                field="path")
        if ASCII_NUMBER.match(segment) and int(segment) > MAX_ID:
            raise NotFound(_("no such object: %(id)s is out of range") % {"id": segment[:30]},
                           field="path")


def _pairs(request: HttpRequest) -> Iterator[tuple[str, Iterable[str]]]:
    yield from request.GET.lists()
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    content_type = request.content_type or ""
    if content_type in ("multipart/form-data", "application/x-www-form-urlencoded"):
        yield from request.POST.lists()
        for name, files in request.FILES.lists():
            yield name, [f.name or "" for f in files]  # the names only, never the bytes
    elif request.body:
        try:
            document = json.loads(request.body)
        except (ValueError, UnicodeDecodeError):
            return  # not JSON: the view answers that in its own words
        except RecursionError:
            raise ValidationError(_("the JSON body is nested deeper than %(depth)d levels")
                                  % {"depth": MAX_JSON_DEPTH}, field="body",
                                  code="too_deep") from None
        _walk(document, "body")


def check_request(request: HttpRequest) -> None:
    """Raise the :class:`DomainError` that refuses this request, if any."""
    _check_path(request.path_info)
    for header in STORED_HEADERS:
        check_text(request.headers.get(header, ""), header)
    try:
        for name, values in _pairs(request):
            check_text(name, name[:50])
            for value in values:
                check_text(value, name)
    except (MultiPartParserError, TooManyFieldsSent) as exc:
        raise ValidationError(_("the form data is malformed: %(problem)s")
                              % {"problem": str(exc)[:200]}, field="body",
                              code="malformed_body") from None
    except TooManyFilesSent:
        raise ValidationError(_("the request sends too many files"), field="body",
                              code="too_many_files") from None
    except RequestDataTooBig:
        raise TooLarge(_("the request body is too large"), field="body") from None


# ---------------------------------------------------------------- answers

def api_error(error: DomainError) -> HttpResponse:
    return JsonResponse(error.as_dict(), status=error.status,
                        json_dumps_params={"ensure_ascii": False})


def _open311_error(request: HttpRequest, error: DomainError) -> HttpResponse:
    # core imports no other app: GeoReport's own error rendering is looked up by name
    errors: Callable = import_string("shanzhi.open311.render.errors")
    fmt = "json" if request.path_info.endswith(".json") else "xml"
    return errors(fmt, [(error.status, error.message)], status=error.status)


def refuse(request: HttpRequest, error: DomainError) -> HttpResponse:
    """The error in the format of the part of the site the request went to."""
    path = request.path_info
    if path.startswith("/api/"):
        return api_error(error)
    if path.startswith("/open311/"):
        return _open311_error(request, error)
    raise BadRequest(error.message)  # Django's 400 page


class HostileInputMiddleware:
    """Refuse hostile input before any view sees it (see the module's docstring)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            check_request(request)
        except DomainError as error:
            return refuse(request, error)
        response = self.get_response(request)
        if (response.status_code in (404, 405) and request.path_info.startswith("/api/")
                and not response.get("Content-Type", "").startswith("application/json")):
            return _api_status(request, response)
        return response


def _api_status(request: HttpRequest, response: HttpResponse) -> HttpResponse:
    """A 404 or 405 answered in HTML (an unknown address, a method the
    operation does not take) in the API's one format."""
    if response.status_code == 404:
        return api_error(NotFound(_("no such address in the API: %(path)s")
                                  % {"path": request.path_info[:200]}))
    error = DomainError(_("%(method)s is not allowed here: use %(allowed)s")
                        % {"method": request.method, "allowed": response.get("Allow", "")},
                        code="method_not_allowed")
    error.status = 405
    answer = api_error(error)
    answer["Allow"] = response.get("Allow", "")
    return answer


# ---------------------------------------------------------------- answers' models

class Out(BaseModel):
    """The base of every answer's model. A plain pydantic model, not ninja's
    ``Schema``: ninja validates each answer against its model, and its
    ``Schema`` reads every field of every item through a getter (0.5 ms for one
    incident, seconds for the command centre's thousands of points), where
    pydantic validates a dict natively."""

    model_config = ConfigDict(from_attributes=True)


# ---------------------------------------------------------------- the error model in the schema

class ErrorBody(Out):
    code: str = Field(description="stable, English: invalid, invalid_text, not_found, …")
    message: str = Field(description="for people, in the request's language")
    field: str | None = Field(description="the parameter or body field at fault, if one is")
    details: dict[str, Any] | None = Field(
        None, description="more about the problem (e.g. the validation errors)")


class ErrorOut(Out):
    """Every error of the API: ``{"error": {"code", "message", "field", "details"?}}``."""

    error: ErrorBody


#: What each error status means, for the schema.
ERROR_STATUSES = {
    400: "invalid input (a parameter, a field, a body); also a forbidden character or a "
         "malformed body",
    401: "not logged in: send Authorization: Bearer <token> or the page's session",
    403: "your role may not do this",
    404: "not found in your territory (also an id beyond 2^63-1)",
    409: "someone else acted first: reload and try again",
    413: "the request body is too large",
    422: "this Idempotency-Key was used for a different request",
    429: "too many requests: wait and try again",
}


def errors(*statuses: int) -> dict[int, type[ErrorOut]]:
    """The ``response=`` entries of an operation's error statuses (400 and
    401 always: any input may be refused, any caller may be unknown)."""
    return {status: ErrorOut for status in sorted({400, 401, *statuses})}


def longest(limit: int) -> dict:
    """A text's limit as the schema states it: the service refuses a longer
    one (in the user's language, naming the field and the limit), so the
    model does not check it first with a message of its own."""
    return {"json_schema_extra": {"maxLength": limit},
            "description": f"at most {limit:,} characters"}
