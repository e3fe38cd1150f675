"""Buildings and houses: created at a point of the actor's territory, with
their standard address and key (``addresses``); a house edited only from
the version its editor read."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext

from shanzhi.accounts.models import User
from shanzhi.accounts.scope import Scope, locate_point
from shanzhi.core.errors import Conflict, NotFound, PermissionDenied, ValidationError
from shanzhi.geo.index import get_index

from . import addresses, validators
from .models import Building, House, HouseUse
from .selectors import WRITE_ROLES

HOUSE_FIELDS = ("unit", "room", "use", "area", "owner_name", "owner_phone")


def _check_writer(actor: User) -> Scope:
    scope = Scope.for_user(actor)
    if not actor.is_superuser and (actor.role not in WRITE_ROLES or scope.is_empty):
        raise PermissionDenied(gettext("Your role may not create or edit buildings and houses."))
    return scope


def _first(problems: list[ValidationError]) -> None:
    """Raise the first problem, the others in its details."""
    if problems:
        first = problems[0]
        raise ValidationError(first.message, field=first.field, code=first.code, details={
            "problems": [{"field": p.field, "message": p.message} for p in problems]})


def _number(value, *, field: str, label: str, required: bool) -> str:
    """A door, building, unit or room number as the key reads it (88号 → 88,
    三幢 → 3, 0302室 → 302)."""
    raw = validators.text(value, field=field, label=label, max_length=20, required=required)
    cleaned = addresses.number_part(raw) if raw else ""
    if raw and not re.fullmatch(r"[0-9A-Z]+(?:-[0-9A-Z]+)*", cleaned):
        raise ValidationError(gettext("%(label)s must be digits or letters, such as 88, 3 or "
                                      "302.") % {"label": label}, field=field, code="number")
    return cleaned


def building_create(*, actor: User, road: str, number: str, lng, lat, estate: str = "",
                    building: str = "", community_code: str | None = None,
                    grid_code: str | None = None, crs: str = "wgs84") -> Building:
    """A building at a point in the actor's territory (a grid worker's: in
    their grids). The grid and community come from the point; a
    ``community_code`` or ``grid_code`` given must agree with it."""
    scope = _check_writer(actor)
    cleaned, problems = validators.clean({
        "road": lambda v: validators.text(v, field="road", label=gettext("Road"),
                                          max_length=50, required=True),
        "number": lambda v: _number(v, field="number", label=gettext("Door number"),
                                    required=True),
        "estate": lambda v: validators.text(v, field="estate", label=gettext("Estate"),
                                            max_length=50),
        "building": lambda v: _number(v, field="building", label=gettext("Building"),
                                      required=False),
    }, {"road": road, "number": number, "estate": estate, "building": building})
    _first(problems)
    lng_f, lat_f, grid, _region = locate_point(lng=lng, lat=lat, crs=crs,
                                               scope=None if actor.is_superuser else scope)
    if grid is None:
        raise ValidationError(gettext("The point lies in no grid: a building is placed in a "
                                      "grid."), field="location", code="no_grid")
    if grid_code and grid.code != grid_code:
        raise ValidationError(gettext("The point lies in grid %(grid)s, not in grid %(code)s.")
                              % {"grid": grid.code, "code": grid_code}, field="grid_code",
                              code="grid_mismatch")
    community = get_index().region(grid.community_id)
    if community_code and community.code != community_code:
        raise ValidationError(gettext("The point lies in community %(community)s, not in "
                                      "%(code)s.") % {"community": community.code,
                                                      "code": community_code},
                              field="community_code", code="community_mismatch")
    road_n = addresses.normalize(cleaned["road"])
    key = addresses.building_key(community.code, road_n, cleaned["number"], cleaned["building"])
    address = addresses.standard_address(community, road_n, cleaned["number"],
                                         cleaned["estate"], cleaned["building"])
    existing = Building.objects.filter(key=key).values_list("pk", "path", "grid_id").first()
    if existing is not None:
        raise _duplicate(scope, existing, gettext("This building is already registered: "
                                                  "%(address)s.") % {"address": address},
                         "number")
    row = Building(grid=grid, community=community, road=road_n,
                   number=f"{cleaned['number']}号",
                   building=f"{cleaned['building']}幢" if cleaned["building"] else "",
                   estate=cleaned["estate"], lng=lng_f, lat=lat_f, address=address, key=key)
    try:
        with transaction.atomic():
            row.save()
    except IntegrityError:
        raise Conflict(gettext("This building is already registered: %(address)s.")
                       % {"address": address}, field="number", code="duplicate") from None
    return row


def _duplicate(scope: Scope, existing: tuple, message: str, field: str) -> Conflict:
    """The existing row named (its id) inside the scope; outside, a plain refusal."""
    pk, path, grid_id = existing
    if scope.covers(path, grid_id):
        return Conflict(message, field=field, code="duplicate", details={"id": pk})
    return Conflict(gettext("This address is already registered."), field=field,
                    code="duplicate")


def _house_checks() -> dict:
    def area(value):
        if value in (None, ""):
            return None
        try:
            number = Decimal(str(value).strip())
        except InvalidOperation:
            number = None
        if number is None or not number.is_finite() or not 0 < number < 100_000:
            raise ValidationError(gettext("The floor area must be a number of square metres "
                                          "between 0 and 100,000."), field="area", code="area")
        return number.quantize(Decimal("0.01"))

    return {
        "unit": lambda v: _number(v, field="unit", label=gettext("Building unit"),
                                  required=False),
        "room": lambda v: _number(v, field="room", label=gettext("Room"), required=True),
        "use": lambda v: validators.choice(v or HouseUse.OWN, field="use", label=gettext("Use"),
                                           choices=HouseUse.choices),
        "area": area,
        "owner_name": lambda v: validators.text(v, field="owner_name", label=gettext("Owner"),
                                                max_length=100),
        "owner_phone": lambda v: validators.phone(v, field="owner_phone"),
    }


def _check_building(scope: Scope, actor: User, building: Building) -> None:
    if not actor.is_superuser and not scope.covers(building.path, building.grid_id):
        raise NotFound(gettext("No building %(id)s in your territory.") % {"id": building.pk},
                       field="building")


def house_create(*, actor: User, building: Building, unit: str = "", room: str,
                 use: str = HouseUse.OWN, area=None, owner_name: str = "",
                 owner_phone: str = "") -> House:
    """A house (flat) of a building of the actor's territory."""
    scope = _check_writer(actor)
    _check_building(scope, actor, building)
    cleaned, problems = validators.clean(_house_checks(), {
        "unit": unit, "room": room, "use": use, "area": area, "owner_name": owner_name,
        "owner_phone": owner_phone})
    _first(problems)
    key = addresses.house_key(building.key, cleaned["unit"], cleaned["room"])
    address = _house_address(building, cleaned["unit"], cleaned["room"])
    existing = House.objects.filter(key=key).values_list("pk", "path", "grid_id").first()
    if existing is not None:
        raise _duplicate(scope, existing, gettext("This house is already registered: "
                                                  "%(address)s.") % {"address": address},
                         "room")
    house = House(grid_id=building.grid_id, path=building.path, building=building,
                  address=address, key=key, **cleaned)
    try:
        with transaction.atomic():
            House.objects.bulk_create([house])  # the building's path: no grid query
    except IntegrityError:
        raise Conflict(gettext("This house is already registered: %(address)s.")
                       % {"address": address}, field="room", code="duplicate") from None
    return house


def _house_address(building: Building, unit: str, room: str) -> str:
    return building.address + (f"{unit}单元" if unit else "") + f"{room}室"


def house_update(*, actor: User, house: House, version: int, **fields) -> House:
    """Change a house's fields (unit, room, use, area, owner_name,
    owner_phone), only from the version the editor read: a stale version is
    a ``Conflict`` (code ``stale``)."""
    scope = _check_writer(actor)
    if not actor.is_superuser and not scope.covers(house.path, house.grid_id):
        raise NotFound(gettext("No house %(id)s in your territory.") % {"id": house.pk},
                       field="house")
    unknown = sorted(set(fields) - set(HOUSE_FIELDS))
    if unknown:
        raise ValidationError(gettext("%(field)s cannot be changed here.")
                              % {"field": unknown[0]}, field=unknown[0], code="unknown_field")
    checks = _house_checks()
    current = {name: getattr(house, name) for name in HOUSE_FIELDS}
    cleaned, problems = validators.clean({n: checks[n] for n in fields}, fields)
    _first(problems)
    changes = {name: value for name, value in cleaned.items() if value != current[name]}
    if not changes:
        if house.version != version:
            raise _stale()
        return house
    building = house.building
    if "unit" in changes or "room" in changes:
        unit = changes.get("unit", house.unit)
        room = changes.get("room", house.room)
        changes["key"] = addresses.house_key(building.key, unit, room)
        changes["address"] = _house_address(building, unit, room)
        if House.objects.filter(key=changes["key"]).exclude(pk=house.pk).exists():
            raise Conflict(gettext("This house is already registered: %(address)s.")
                           % {"address": changes["address"]}, field="room", code="duplicate")
    now = timezone.now()
    try:
        with transaction.atomic():
            updated = House.objects.filter(pk=house.pk, version=version).update(
                **changes, version=version + 1, updated_at=now)
    except IntegrityError:
        raise Conflict(gettext("This house is already registered."), field="room",
                       code="duplicate") from None
    if not updated:
        raise _stale()
    for name, value in changes.items():
        setattr(house, name, value)
    house.version, house.updated_at = version + 1, now
    return house


def _stale() -> Conflict:
    return Conflict(gettext("Someone else changed this house first; reload and try again."),
                    field="version", code="stale")


__all__ = ["building_create", "house_create", "house_update"]
