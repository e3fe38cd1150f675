"""GeoReport v2 endpoints at /open311/v2/: parse the parameters, call a
service or a selector, present in XML or JSON. Every failure is the spec's
list of ``{code, description}`` in the requested format."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from functools import wraps

from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext
from django.views.decorators.csrf import csrf_exempt

from shanzhi.core.errors import DomainError, PermissionDenied, ValidationError
from shanzhi.core.net import client_ip

from . import selectors, services
from .models import ApiKey
from .render import errors, respond

SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
#: When this API last changed (discovery's changeset).
CHANGESET = "2026-11-26T00:00:00+08:00"
CONTACT = "苏州市网格化社会治理联动指挥中心 (the city's grid governance linkage centre)"
KEY_SERVICE = ("API keys are issued by the platform's administrators: in the admin "
               "(Open311 API keys) or with `shanzhi open311 key create --name NAME`.")
ATTRIBUTE = re.compile(r"^attribute\[([^\[\]]+)\](\[\])?$")
POST_FIELDS = ("service_code", "lat", "long", "address_string", "address_id", "email",
               "device_id", "account_id", "first_name", "last_name", "phone", "description",
               "media_url")


class MethodNotAllowed(DomainError):
    status = 405
    code = "method_not_allowed"


def endpoint(*methods: str) -> Callable:
    """Answer domain errors in the spec's format; refuse other methods."""
    def decorate(view: Callable) -> Callable:
        @csrf_exempt
        @wraps(view)
        def wrapper(request: HttpRequest, fmt: str, **kwargs) -> HttpResponse:
            try:
                if request.method not in methods:
                    raise MethodNotAllowed(f"{request.method} is not allowed here: use "
                                           + " or ".join(methods))
                return view(request, fmt, **kwargs)
            except services.Problems as exc:
                return errors(fmt, [(400, p.message) for p in exc.problems], status=400)
            except DomainError as exc:
                response = errors(fmt, [(exc.status, exc.message)], status=exc.status)
                if isinstance(exc, services.RateLimited):
                    response["Retry-After"] = str(exc.details.get("retry_after", 60))
                if isinstance(exc, MethodNotAllowed):
                    response["Allow"] = ", ".join(methods)
                return response
        return wrapper
    return decorate


# ---------------------------------------------------------------- parameters

def _param(request: HttpRequest, name: str) -> str:
    """A parameter, stripped; an empty one is an absent one. A POST may also
    carry it in the query string."""
    value = request.POST.get(name) if request.method == "POST" else None
    if not value:
        value = request.GET.get(name)
    return (value or "").strip()


def _key(request: HttpRequest, *, required: bool) -> ApiKey | None:
    """The api_key's key, counted against its rate limit. A bad key is 403
    wherever it is sent; only POST requires one. A read without a key is
    counted against its client address's limit."""
    secret = _param(request, "api_key")
    if not secret:
        if required:
            raise PermissionDenied(gettext("api_key was not provided."), field="api_key")
        services.rate_count_anonymous(client=client_ip(request))
        return None
    key = services.key_authenticate(secret)
    services.rate_count(key=key)
    return key


def _city_and_key(request: HttpRequest, *, required: bool = False):
    key = _key(request, required=required)
    city = selectors.jurisdiction_for(jurisdiction_id=_param(request, "jurisdiction_id"),
                                      key=key)
    return city, key


def _comma_list(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


def _datetime(value: str, name: str, *, end: bool = False) -> dt.datetime | None:
    """A W3C date-time (``Z`` or an offset; without one, the city's time), or
    a date: its first second, or for ``end_date`` its last."""
    if not value:
        return None
    try:
        if len(value) == 10:
            day = dt.date.fromisoformat(value)
            moment = dt.datetime.combine(day, dt.time(23, 59, 59) if end else dt.time())
        else:
            moment = dt.datetime.fromisoformat(value.replace(" ", "+"))
    except ValueError:
        raise ValidationError(gettext("%(name)s must be a W3C date-time such as "
                                      "2026-11-01T00:00:00+08:00, not %(value)s.")
                              % {"name": name, "value": value[:40]}, field=name) from None
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment, timezone.get_default_timezone())
    return moment


def _positive(request: HttpRequest, name: str, default: int, largest: int) -> int:
    value = _param(request, name)
    if not value:
        return default
    if not value.isdigit() or not 1 <= int(value) <= largest:
        raise ValidationError(gettext("%(name)s must be a whole number from 1 to %(largest)d.")
                              % {"name": name, "largest": largest}, field=name)
    return int(value)


# ---------------------------------------------------------------- endpoints

@endpoint("GET")
def discovery(request: HttpRequest, fmt: str) -> HttpResponse:
    url = request.build_absolute_uri(reverse("open311-discovery", args=["xml"]))
    base = url.rsplit("/", 1)[0]
    return respond(fmt, "discovery", {
        "changeset": CHANGESET,
        "contact": CONTACT,
        "key_service": KEY_SERVICE,
        "endpoints": [{
            "specification": SPECIFICATION,
            "url": base,
            "changeset": CHANGESET,
            "type": "production",
            "formats": ["text/xml", "application/json"],
        }],
    })


@endpoint("GET")
def service_list(request: HttpRequest, fmt: str) -> HttpResponse:
    _city, key = _city_and_key(request)
    kind = "batch" if key is not None and key.answers_with_token else "realtime"
    return respond(fmt, "services", [{
        "service_code": s.code,
        "service_name": s.name,
        "description": s.description,
        "metadata": bool(s.fields),
        "type": kind,
        "keywords": None,
        "group": s.group or None,
    } for s in selectors.services()])


@endpoint("GET")
def service_definition(request: HttpRequest, fmt: str, code: str) -> HttpResponse:
    _city_and_key(request)
    info = selectors.service_info(code)
    if info is None:
        return errors(fmt, [(404, f"service_code {code!r} was not found")], status=404)
    return respond(fmt, "service_definition", {
        "service_code": info.code,
        "attributes": selectors.service_definition(info),
    })


@endpoint("GET", "POST")
def requests(request: HttpRequest, fmt: str) -> HttpResponse:
    if request.method == "POST":
        return _create(request, fmt)
    city, key = _city_and_key(request)
    largest = (selectors.MAX_RESULTS if key is not None
               else min(selectors.ANONYMOUS_MAX_RESULTS, selectors.MAX_RESULTS))
    query = selectors.RequestQuery(
        ids=_comma_list(_param(request, "service_request_id")),
        codes=_comma_list(_param(request, "service_code")),
        start=_datetime(_param(request, "start_date"), "start_date"),
        end=_datetime(_param(request, "end_date"), "end_date", end=True),
        statuses=_statuses(_param(request, "status")),
        page=_positive(request, "page", 1, 1_000_000),
        page_size=_positive(request, "page_size", largest, largest))
    scope = selectors.read_scope(city=city, key=key)
    incidents = selectors.requests_find(scope=scope, query=query)
    return respond(fmt, "service_requests", selectors.request_rows(incidents))


def _statuses(value: str) -> list[str]:
    statuses = [s.lower() for s in _comma_list(value)]
    bad = [s for s in statuses if s not in ("open", "closed")]
    if bad:
        raise ValidationError(gettext("status must be open or closed, not %(value)s.")
                              % {"value": bad[0]}, field="status")
    return statuses


def _create(request: HttpRequest, fmt: str) -> HttpResponse:
    _city, key = _city_and_key(request, required=True)  # checks jurisdiction_id against the key
    assert key is not None
    attributes: dict[str, list[str]] = {}
    for name, values in request.POST.lists():
        match = ATTRIBUTE.match(name)
        if match:
            attributes.setdefault(match.group(1), []).extend(v.strip() for v in values)
    fields = {name: _param(request, name) for name in POST_FIELDS}
    filed = services.request_file(key=key, attributes=attributes, **fields)
    answer: dict = ({"token": filed.request.token} if key.answers_with_token
                    else {"service_request_id": filed.incident.number})
    answer["service_notice"] = None
    answer["account_id"] = filed.request.account_id or None
    return respond(fmt, "service_requests", [answer])


@endpoint("GET")
def request_detail(request: HttpRequest, fmt: str, number: str) -> HttpResponse:
    city, key = _city_and_key(request)
    incident = selectors.request_get(scope=selectors.read_scope(city=city, key=key),
                                     number=number)
    return respond(fmt, "service_requests", selectors.request_rows([incident]))


@endpoint("POST")
def suggestions(request: HttpRequest, fmt: str) -> HttpResponse:
    """A non-standard extension (docs/open311.md): the three services the
    city's model finds most likely for a ``description``, each with its
    confidence, so that a client can offer them before the citizen picks one.
    Needs an api_key (counted like a POST of a request)."""
    _city_and_key(request, required=True)
    return respond(fmt, "suggestions",
                   selectors.service_suggestions(_param(request, "description")))


@endpoint("GET")
def token_detail(request: HttpRequest, fmt: str, token: str) -> HttpResponse:
    city, key = _city_and_key(request)
    found = selectors.token_find(scope=selectors.read_scope(city=city, key=key), token=token)
    return respond(fmt, "service_requests", [found])


@csrf_exempt
def not_found(request: HttpRequest) -> HttpResponse:
    fmt = "json" if request.path.endswith(".json") else "xml"
    return errors(fmt, [(404, f"no such resource: {request.path} (formats: .xml, .json)")],
                  status=404)
