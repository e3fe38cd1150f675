"""Writes of the Open311 server: API keys (their service accounts), the rate
windows (of the keys, and of the addresses reading without one), and filing a
service request — through ``incidents.services.incident_report``, channel
``open311``, never by writing an incident directly."""

from __future__ import annotations

import datetime as dt
import re
import secrets
import uuid
from collections.abc import Mapping
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import EmailValidator, URLValidator
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext

from shanzhi.accounts.models import Role
from shanzhi.accounts.services import user_create
from shanzhi.core.errors import DomainError, NotFound, PermissionDenied, ValidationError
from shanzhi.geo.models import Region
from shanzhi.geo.selectors import current_region
from shanzhi.incidents.models import Channel, Incident
from shanzhi.incidents.services import MAX_DESCRIPTION, incident_report

from .models import ApiKey, RateWindow, ServiceRequest

#: last_used_at is written at most this often per key.
TOUCH_EVERY = dt.timedelta(minutes=5)
WINDOW = dt.timedelta(minutes=1)
CJK = re.compile(r"[\u3400-\u9fff]")


class RateLimited(DomainError):
    status = 429
    code = "rate_limited"


# ---------------------------------------------------------------- keys

def jurisdiction_check(region: Region) -> Region:
    if region.parent_id is not None or region.valid_to is not None:
        raise ValidationError(gettext("%(code)s is not a current city: a jurisdiction is a "
                                      "top-level region.") % {"code": region.code},
                              field="jurisdiction")
    return region


@transaction.atomic
def key_create(*, name: str, jurisdiction: str | None = None, rate_limit: int = 60,
               answers_with_token: bool = False) -> tuple[ApiKey, str]:
    """A new key and its service account (an operator of the jurisdiction,
    without a password: it can never log in). Returns the key and its secret,
    shown once; only its hash is kept."""
    name = (name or "").strip()
    if not name:
        raise ValidationError(gettext("The key needs a name (the application it is for)."),
                              field="name")
    if jurisdiction:
        region = jurisdiction_check(current_region(jurisdiction, field="jurisdiction"))
    else:
        cities = list(Region.objects.current().filter(parent__isnull=True).defer("geometry")[:2])
        if len(cities) != 1:
            raise ValidationError(gettext("Several cities (or none) are served here: give the "
                                          "jurisdiction (a city's code)."), field="jurisdiction")
        region = cities[0]
    if rate_limit < 1:
        raise ValidationError(gettext("The rate limit must be at least 1 request a minute."),
                              field="rate_limit")
    user = user_create(username=f"open311-{secrets.token_hex(5)}",
                       password=secrets.token_urlsafe(24), role=Role.OPERATOR,
                       region_code=region.code, display_name=f"Open311: {name}"[:100],
                       validate=False)
    user.set_unusable_password()
    user.save(update_fields=["password"])
    secret = ApiKey.PREFIX + secrets.token_urlsafe(32)
    key = ApiKey.objects.create(name=name[:100], jurisdiction=region, user=user,
                                key_hash=ApiKey.hash(secret), hint=secret[:10],
                                rate_limit=rate_limit, answers_with_token=answers_with_token)
    return key, secret


def key_revoke(*, key: ApiKey, now: dt.datetime | None = None) -> None:
    ApiKey.objects.filter(pk=key.pk, revoked_at__isnull=True).update(
        revoked_at=now or timezone.now())


def key_authenticate(secret: str, *, now: dt.datetime | None = None) -> ApiKey:
    """The live key with this secret, or PermissionDenied (HTTP 403)."""
    key = (ApiKey.objects.select_related("user").defer("jurisdiction__geometry")
           .filter(key_hash=ApiKey.hash(secret), revoked_at__isnull=True).first()
           if secret else None)
    if key is None or not key.user.is_active:
        raise PermissionDenied(gettext("Invalid api_key."), field="api_key")
    now = now or timezone.now()
    if key.last_used_at is None or now - key.last_used_at > TOUCH_EVERY:
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
    return key


def rate_count(*, key: ApiKey, now: dt.datetime | None = None) -> None:
    """Count one request in the key's current minute; RateLimited past its
    limit. A fixed window in the database: every server process shares it."""
    _count_in_window(owner={"key": key}, limit=key.rate_limit, now=now, field="api_key",
                     refusal=gettext("More than %(limit)d requests a minute with this api_key")
                     % {"limit": key.rate_limit})


def rate_count_anonymous(*, client: str, now: dt.datetime | None = None) -> None:
    """Count one read without an api_key from the client's address in its
    current minute (``SHANZHI_OPEN311_ANONYMOUS_PER_MINUTE``, in the same
    windows as the keys); RateLimited past it. A limit of 0 publishes nothing
    without a key."""
    limit = settings.OPEN311_ANONYMOUS_PER_MINUTE
    if limit <= 0:
        raise PermissionDenied(gettext("api_key was not provided: this server answers reads "
                                       "only with an api_key."), field="api_key")
    _count_in_window(owner={"key": None, "client": client[:64]}, limit=limit, now=now,
                     field="api_key",
                     refusal=gettext("More than %(limit)d reads a minute from your address "
                                     "without an api_key (a key of your own has its own limit)")
                     % {"limit": limit})


def _count_in_window(*, owner: dict, limit: int, now: dt.datetime | None, field: str,
                     refusal: str) -> None:
    now = now or timezone.now()
    start = now.replace(second=0, microsecond=0)
    window = RateWindow.objects.filter(start=start, **owner)
    if not window.update(count=F("count") + 1):
        try:
            with transaction.atomic():
                RateWindow.objects.create(start=start, count=1, **owner)
        except IntegrityError:  # another process opened the window first
            window.update(count=F("count") + 1)
        # forget the windows of an hour ago: the key's own, or those of every address
        RateWindow.objects.filter(key=owner["key"],
                                  start__lt=start - dt.timedelta(hours=1)).delete()
    count = window.values_list("count", flat=True).first()
    if count is not None and count > limit:
        retry = int((start + WINDOW - now).total_seconds()) + 1
        raise RateLimited(gettext("%(refusal)s: retry in %(seconds)d s.")
                          % {"refusal": refusal, "seconds": retry}, field=field,
                          details={"retry_after": retry})


# ---------------------------------------------------------------- filing a request

@dataclass(frozen=True)
class Filed:
    incident: Incident
    request: ServiceRequest


def _contact_name(first: str, last: str) -> str:
    first, last = first.strip(), last.strip()
    if CJK.search(first + last):  # 张 + 三: the family name first, no space
        return f"{last}{first}"
    return " ".join(p for p in (first, last) if p)


def _check_optional(value: str, validator, field: str, limit: int) -> str:
    value = value.strip()
    if not value:
        return ""
    if len(value) > limit:
        raise ValidationError(gettext("%(field)s is longer than %(limit)d characters.")
                              % {"field": field, "limit": limit}, field=field)
    try:
        validator(value)
    except DjangoValidationError:
        raise ValidationError(gettext("%(field)s is not valid: %(value)s.")
                              % {"field": field, "value": value[:60]}, field=field) from None
    return value


def request_file(*, key: ApiKey, service_code: str,
                 description: str = "", lat: str = "", long: str = "",
                 address_string: str = "", address_id: str = "",
                 attributes: Mapping[str, list[str]] | None = None, email: str = "",
                 device_id: str = "", account_id: str = "", first_name: str = "",
                 last_name: str = "", phone: str = "", media_url: str = "") -> Filed:
    """File a service request as the key's service account. ``attributes``:
    code → the values given (one for most datatypes, several for a
    multivaluelist); codes the service does not define are ignored. The
    place must lie in the key's jurisdiction: the service account operates
    that city, and intake refuses a place outside the reporter's territory."""
    from .selectors import service_info

    problems: list[ValidationError] = []
    if not service_code:
        raise ValidationError(gettext("service_code was not provided."), field="service_code")
    service = service_info(service_code)
    if service is None:
        raise NotFound(gettext("service_code %(code)s was not found.") % {"code": service_code},
                       field="service_code")
    fields = {f["code"]: f for f in service.fields}
    if (lat == "") != (long == ""):
        problems.append(ValidationError(gettext("lat and long must be given together."),
                                        field="lat" if lat == "" else "long"))
    elif lat == "" and not address_string and not address_id:
        problems.append(ValidationError(gettext("A location is required: lat and long, "
                                                "address_string or address_id."),
                                        field="location"))
    coords = {}
    if lat != "" and long != "":
        try:
            coords = {"lat": float(lat), "lng": float(long)}
        except ValueError:
            problems.append(ValidationError(gettext("lat and long must be numbers."),
                                            field="lat"))
    if len(description) > MAX_DESCRIPTION:
        problems.append(ValidationError(gettext("description is longer than %(limit)d "
                                                "characters.") % {"limit": MAX_DESCRIPTION},
                                        field="description"))
    extra: dict = {}
    for code, spec in fields.items():
        values = [v for v in (attributes or {}).get(code, []) if v != ""]
        if not values:
            if spec.get("required"):
                problems.append(ValidationError(
                    gettext("attribute[%(code)s] (%(name)s) is required.")
                    % {"code": code, "name": spec.get("name", code)},
                    field=f"attribute[{code}]"))
            continue
        if spec.get("datatype") == "multivaluelist":
            extra[code] = values
        elif len(values) > 1:
            problems.append(ValidationError(gettext("attribute[%(code)s] takes one value.")
                                            % {"code": code}, field=f"attribute[{code}]"))
        else:
            extra[code] = values[0]
    try:
        email = _check_optional(email, EmailValidator(), "email", 254)
    except ValidationError as exc:
        problems.append(exc)
    try:
        media_url = _check_optional(media_url, URLValidator(schemes=["http", "https"]),
                                    "media_url", 500)
    except ValidationError as exc:
        problems.append(exc)
    if problems:
        raise Problems(problems)
    text = description.strip() or service.name  # the spec's description is optional
    address = address_string.strip() or (f"address_id {address_id}" if address_id else "")
    with transaction.atomic():
        incident, _created = incident_report(
            actor=key.user, channel=Channel.OPEN311, description=text, category=service_code,
            address=address, contact_name=_contact_name(first_name, last_name),
            contact_phone=phone.strip(), extra=extra or None, **coords)
        request = ServiceRequest.objects.create(
            incident=incident, key=key, token=uuid.uuid4().hex, account_id=account_id[:100],
            device_id=device_id[:100], email=email, address_id=address_id[:100],
            media_url=media_url)
    return Filed(incident, request)


class Problems(ValidationError):
    """Several problems at once (the spec allows a list of errors)."""

    def __init__(self, problems: list[ValidationError]) -> None:
        super().__init__("; ".join(p.message for p in problems), field=problems[0].field)
        self.problems = problems

    def lines(self) -> list[str]:
        return [p.message for p in self.problems]
