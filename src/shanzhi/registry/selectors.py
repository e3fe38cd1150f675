"""The reads of the registries, each through the actor's scope, and the
masked dicts the API and the pages present (docs/registry.md).

``visible`` is the one place the registries are scoped: city administrators
see the city, operators and viewers their territory, grid workers their
grids only; handlers and mediators see nothing. Identity numbers and
phones leave this module masked, except through ``reveal_person`` (one
person, a role of ``REVEAL_ROLES``, one access-log row each time).
"""

from __future__ import annotations

import datetime as dt
import re
from functools import reduce
from operator import or_

from django.db import connections
from django.db.models import (
    BooleanField,
    Case,
    Exists,
    F,
    Func,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Collate
from django.utils import timezone
from django.utils.translation import gettext

from shanzhi.accounts.models import Role, User
from shanzhi.accounts.scope import Scope
from shanzhi.core.errors import NotFound, PermissionDenied, ValidationError
from shanzhi.core.privacy import mask_id_number, mask_phone, record_unmasked_view

from . import workflow as wf
from .models import (
    Group,
    House,
    KeyPlace,
    LeftBehind,
    Member,
    Organisation,
    Person,
    PersonChange,
    PersonKind,
)

#: The roles that read the registries (each within its scope).
READ_ROLES = frozenset({Role.CITY_ADMIN, Role.OPERATOR, Role.GRID_WORKER, Role.VIEWER})
#: The roles that may see one person's identity number and phone unmasked.
REVEAL_ROLES = frozenset({Role.CITY_ADMIN, Role.OPERATOR, Role.GRID_WORKER})
#: Who creates and edits people, houses, organisations, members and places
#: (a grid worker in their own grids).
WRITE_ROLES = frozenset({Role.CITY_ADMIN, Role.OPERATOR, Role.GRID_WORKER})
#: Who merges people, imports, exports and sets the follow-up rules.
OPS_ROLES = frozenset({Role.CITY_ADMIN, Role.OPERATOR})
#: The most rows a list or a search answers at once.
PAGE_LIMIT = 100

_FULL_ID = re.compile(r"\d{17}[\dX]")
_NUMBER = re.compile(r"\d{3,17}X?")
_ADDRESS_HINT = re.compile(r"[\d路街巷弄号幢栋单元室村组]")


def visible(scope: Scope, model) -> QuerySet:
    """Every row of ``model`` (a registry table with a grid and a path) the
    scope's user may see: THE scoping of the registries."""
    qs = model.objects.all()
    if scope.unrestricted:
        return qs
    if scope.role not in READ_ROLES:
        return qs.none()
    return scope.filter(qs, grid_field="grid_id")


def _choices(value, choices, field: str) -> list[str]:
    """A comma-separated list (or a list) of codes of ``choices``."""
    values = [v.strip() for v in (value.split(",") if isinstance(value, str) else value)
              if v and v.strip()]
    known = {code for code, _label in choices}
    bad = [v for v in values if v not in known]
    if bad:
        raise ValidationError(gettext("Unknown value %(value)s: use one of %(choices)s.")
                              % {"value": bad[0], "choices": ", ".join(sorted(known))},
                              field=field, code="choice")
    return values


def _by_grid(qs: QuerySet, grid) -> QuerySet:
    """``grid`` a grid's code or id."""
    if str(grid).isdigit() and len(str(grid)) < 12:
        return qs.filter(grid_id=int(grid))
    return qs.filter(grid__code=str(grid))


def _id(value, field: str) -> int:
    try:
        return int(getattr(value, "pk", value))
    except (TypeError, ValueError):
        raise ValidationError(gettext("%(field)s must be an id (a number).")
                              % {"field": field}, field=field, code="id") from None


# ---------------------------------------------------------------- search

def search_people(qs: QuerySet[Person], q: str) -> QuerySet[Person]:
    """People of ``qs`` matching ``q``, ordered so an index stops early (the
    caller takes a page): an identity number (18 characters) exactly; four
    or more digits: the beginning of an identity number or a phone; an
    address (a digit, or 路街巷弄号幢栋单元室村组) naming a known place: the
    people of the houses whose key begins with the address's
    (``addresses.keys``: one prefix per community it may lie in); else the
    beginning of a name."""
    text = "".join(str(q or "").split())
    if not text:
        return by_name(qs)
    upper = text.upper()
    if _FULL_ID.fullmatch(upper):
        return qs.filter(id_number=upper).order_by("id")
    if len(upper) >= 4 and _NUMBER.fullmatch(upper):
        return by_number(qs, upper)
    if _ADDRESS_HINT.search(text):
        from . import addresses

        prefixes = addresses.keys(text)
        if prefixes:
            houses = House.objects.filter(reduce(or_, (Q(key__startswith=p) for p in prefixes)))
            if connections[qs.db].vendor == "postgresql":
                return qs.filter(_InArray(F("house_id"), Subquery(houses.order_by().values("pk")))
                                 ).order_by("house_id", "id")
            return qs.filter(house__in=houses.values("pk")).order_by("house_id", "id")
        # no known place (路 is also a surname): a name
    return by_name(qs, text)


class _InArray(Func):
    """PostgreSQL: ``column = ANY(ARRAY(subquery))``. The subquery runs once,
    first (its own plan: the houses by their key's index), and its ids are
    looked up in the column's index. As ``column IN (subquery)`` the planner
    may instead walk every house in id order, filtering on the key, hoping to
    fill the page early: 200 ms and more over a million houses."""

    arg_joiner = " = ANY(ARRAY"
    template = "%(expressions)s)"
    output_field = BooleanField()


#: A number prefix matching at most this many people (on each side: identity
#: numbers, phones) is answered from their ids; more, by walking the ids in order.
NARROW = 1000


def by_number(qs: QuerySet[Person], prefix: str) -> QuerySet[Person]:
    """People of ``qs`` whose identity number or phone begins with ``prefix``,
    by id. Whether a prefix matches ten people (a phone's first seven
    digits) or a million (a district's code and a birth year) the planner
    cannot tell: it estimates a thousand either way and, to fill a page in id
    order, walks the primary key filtering every row — seconds over millions
    of people when the matches are rare. So each side is first probed in its
    own index (stopping after ``NARROW`` + 1 rows): when both are narrow the
    answer is the people of those ids (a sort of at most 2,000 rows); when
    one is broad the matches are dense and the walk in id order finds a page
    at once."""
    base = qs.order_by()
    ids: set[int] = set()
    for lookup in ("id_number__startswith", "phone__startswith"):
        found = list(base.filter(**{lookup: prefix}).values_list("pk", flat=True)[:NARROW + 1])
        if len(found) > NARROW:
            return qs.filter(Q(id_number__startswith=prefix) | Q(phone__startswith=prefix)
                             ).order_by("id")
        ids.update(found)
    return qs.filter(pk__in=sorted(ids)).order_by("id")


def by_name(qs: QuerySet[Person], prefix: str = "") -> QuerySet[Person]:
    """``qs`` (whose name begins with ``prefix``) ordered by (name, id) as
    the ``person_name`` index is, so PostgreSQL walks it and stops at the
    page: there the index is ``((name COLLATE "C"), id)`` (migration 0002)
    and the filter and the order are bytewise too; elsewhere (SQLite: BINARY,
    bytewise already) the column as it is."""
    if connections[qs.db].vendor == "postgresql":
        qs = qs.alias(name_c=Collate("name", "C"))
        if prefix:
            qs = qs.filter(name_c__startswith=prefix)
        return qs.order_by("name_c", "id")
    if prefix:
        qs = qs.filter(name__startswith=prefix)
    return qs.order_by("name", "id")


# ---------------------------------------------------------------- lists

def _active_memberships() -> Prefetch:
    return Prefetch("memberships", Member.objects.filter(ended_on__isnull=True)
                    .order_by("group", "id"), to_attr="active_memberships")


def people_list(*, scope: Scope, q: str | None = None, kind=None, grid=None, house=None,
                group=None, left_behind=None, permit_expiring=None,
                today: dt.date | None = None) -> QuerySet[Person]:
    """The current people of the territory (merged records left out) that
    pass every filter: ``kind`` and ``group`` codes (comma-separated),
    ``grid`` a code or id, ``house`` an id, ``left_behind`` a kind or
    True/"any" (every left-behind person), ``permit_expiring`` a number of
    days or True (the notice period): migrants whose permit ends by then,
    soonest first. ``q`` as ``search_people``."""
    qs = visible(scope, Person).filter(merged_into__isnull=True)
    if kind:
        qs = qs.filter(kind__in=_choices(kind, PersonKind.choices, "kind"))
    if grid:
        qs = _by_grid(qs, grid)
    if house:
        qs = qs.filter(house_id=_id(house, "house"))
    if group:
        groups = _choices(group, Group.choices, "group")
        qs = qs.filter(Exists(Member.objects.filter(person=OuterRef("pk"), group__in=groups,
                                                    ended_on__isnull=True)))
    if left_behind:
        if left_behind is True or str(left_behind).lower() in ("any", "true", "1", "yes"):
            qs = qs.exclude(left_behind="")
        else:
            qs = qs.filter(left_behind__in=_choices(left_behind, LeftBehind.choices,
                                                    "left_behind"))
    ordering = ("name", "id")
    if permit_expiring not in (None, False, ""):
        days = (wf.PERMIT_NOTICE_DAYS if permit_expiring is True
                or str(permit_expiring).lower() in ("true", "yes") else permit_expiring)
        try:
            days = int(days)
        except (TypeError, ValueError):
            raise ValidationError(gettext("permit_expiring must be a number of days."),
                                  field="permit_expiring", code="number") from None
        until = (today or timezone.localdate()) + dt.timedelta(days=days)
        qs = qs.filter(kind=PersonKind.MIGRANT, permit_expires__lte=until)
        ordering = ("permit_expires", "id")
    if q and str(q).strip():
        qs = search_people(qs, q)
    else:
        qs = qs.order_by(*ordering) if ordering[0] != "name" else by_name(qs)
    return qs.select_related("house", "grid").defer("grid__geometry").prefetch_related(
        _active_memberships())


def houses_list(*, scope: Scope, q: str | None = None, grid=None, building=None,
                use=None) -> QuerySet[House]:
    """The houses of the territory; ``q`` the beginning of an address (its
    key, ``addresses.key``) or a part of the address as written."""
    qs = visible(scope, House)
    if grid:
        qs = _by_grid(qs, grid)
    if building:
        qs = qs.filter(building_id=_id(building, "building"))
    if use:
        qs = qs.filter(use__in=str(use).split(","))
    if q:
        from . import addresses

        text = "".join(str(q).split())
        prefixes = addresses.keys(text)
        qs = (qs.filter(reduce(or_, (Q(key__startswith=p) for p in prefixes))) if prefixes
              else qs.filter(address__contains=text))
        return (qs.select_related("building", "grid").defer("grid__geometry")
                .order_by("key", "id"))
    return qs.select_related("building", "grid").defer("grid__geometry").order_by(
        "path", "building_id", "unit", "room", "id")


def organisations_list(*, scope: Scope, q: str | None = None, kind=None,
                       grid=None) -> QuerySet[Organisation]:
    """The organisations of the territory; ``q`` a credit code, or the
    beginning of a name."""
    from .models import OrganisationKind

    qs = visible(scope, Organisation)
    if kind:
        qs = qs.filter(kind__in=_choices(kind, OrganisationKind.choices, "kind"))
    if grid:
        qs = _by_grid(qs, grid)
    if q:
        text = "".join(str(q).split())
        if re.fullmatch(r"[0-9A-Za-z]{18}", text):
            qs = qs.filter(credit_code=text.upper())
        else:
            qs = qs.filter(name__startswith=text)
    return qs.select_related("grid", "building").defer("grid__geometry").order_by("name", "id")


def members_list(*, scope: Scope, group=None, level=None, grid=None, worker=None,
                 active: bool | None = True, q: str | None = None) -> QuerySet[Member]:
    """The special-group memberships of the territory (only the current ones
    unless ``active`` is None or False), highest risk first."""
    from .models import RiskLevel

    qs = visible(scope, Member)
    if active is True:
        qs = qs.filter(ended_on__isnull=True)
    elif active is False:
        qs = qs.filter(ended_on__isnull=False)
    if group:
        qs = qs.filter(group__in=_choices(group, Group.choices, "group"))
    if level:
        qs = qs.filter(level__in=_choices(level, RiskLevel.choices, "level"))
    if grid:
        qs = _by_grid(qs, grid)
    if worker:
        qs = (qs.filter(worker_id=int(worker)) if str(worker).isdigit()
              else qs.filter(worker__username=str(worker)))
    if q:
        qs = qs.filter(person__in=search_people(Person.objects.all(), q).order_by()
                       .values("pk")[:1000])
    rank = Case(*(When(level=level, then=Value(i)) for i, level in enumerate(wf.LEVELS)),
                default=Value(0))
    return (qs.select_related("person", "person__house", "grid", "worker")
            .defer("grid__geometry").order_by("group", rank.desc(), "id"))


def places_list(*, scope: Scope, kind=None, level=None, grid=None, active: bool | None = True,
                q: str | None = None) -> QuerySet[KeyPlace]:
    from .models import PlaceKind, RiskLevel

    qs = visible(scope, KeyPlace)
    if active is not None:
        qs = qs.filter(is_active=active)
    if kind:
        qs = qs.filter(kind__in=_choices(kind, PlaceKind.choices, "kind"))
    if level:
        qs = qs.filter(level__in=_choices(level, RiskLevel.choices, "level"))
    if grid:
        qs = _by_grid(qs, grid)
    if q:
        qs = qs.filter(Q(name__startswith=q) | Q(address__contains=q))
    return (qs.select_related("grid", "house", "building", "organisation", "worker")
            .defer("grid__geometry").order_by("path", "name", "id"))


# ---------------------------------------------------------------- one record

def _one(scope: Scope, model, pk, what: str, qs: QuerySet | None = None):
    try:
        key = int(getattr(pk, "pk", pk))
    except (TypeError, ValueError):
        key = None
    found = (qs if qs is not None else visible(scope, model)).filter(pk=key).first() \
        if key is not None else None
    if found is None:
        raise NotFound(gettext("No such %(what)s in your territory.") % {"what": what},
                       field="id")
    return found


def person_for(scope: Scope, pk) -> Person:
    """One person of the territory (a merged record too: it shows whom it was
    merged into), with its house, grid and memberships; else NotFound."""
    qs = (visible(scope, Person).select_related("house", "grid", "household", "employer",
                                                "merged_into")
          .defer("grid__geometry")
          .prefetch_related(Prefetch("memberships", Member.objects.order_by("ended_on", "id")
                                     .select_related("worker"))))
    return _one(scope, Person, pk, gettext("person"), qs)


def house_for(scope: Scope, pk) -> House:
    return _one(scope, House, pk, gettext("house"),
                visible(scope, House).select_related("building", "grid").defer("grid__geometry"))


def organisation_for(scope: Scope, pk) -> Organisation:
    return _one(scope, Organisation, pk, gettext("organisation"),
                visible(scope, Organisation).select_related("grid", "building")
                .defer("grid__geometry"))


def member_for(scope: Scope, pk) -> Member:
    return _one(scope, Member, pk, gettext("member"),
                visible(scope, Member).select_related("person", "person__house", "grid",
                                                      "worker").defer("grid__geometry"))


def place_for(scope: Scope, pk) -> KeyPlace:
    return _one(scope, KeyPlace, pk, gettext("key place"),
                visible(scope, KeyPlace).select_related("grid", "house", "building",
                                                        "organisation", "worker")
                .defer("grid__geometry"))


# ---------------------------------------------------------------- presenting

def _grid(row) -> dict | None:
    grid = row.grid
    return {"id": grid.pk, "code": grid.code, "name": grid.name} if grid else None


def _user(user: User | None) -> dict | None:
    if user is None:
        return None
    return {"id": user.pk, "username": user.username,
            "name": getattr(user, "display_name", "") or user.username}


def _label(model_row, field: str) -> str:
    value = getattr(model_row, field)
    return str(getattr(model_row, f"get_{field}_display")()) if value else ""


def _membership(member: Member) -> dict:
    return {"id": member.pk, "group": member.group, "group_label": _label(member, "group"),
            "level": member.level, "level_label": _label(member, "level"),
            "since": member.since, "ended_on": member.ended_on,
            "worker_id": member.worker_id}


def present_person(person: Person, *, reveal: bool = False) -> dict:
    """A person as the API and the pages show it: the identity number, the
    phone and the permit number masked unless ``reveal`` (only
    ``reveal_person`` passes it)."""
    memberships = getattr(person, "active_memberships", None)
    if memberships is None:
        memberships = list(person.memberships.all())
    house = person.house
    return {
        "id": person.pk,
        "name": person.name,
        "former_name": person.former_name,
        "id_type": person.id_type,
        "id_type_label": _label(person, "id_type"),
        "id_number": person.id_number if reveal else mask_id_number(person.id_number),
        "gender": person.gender,
        "gender_label": _label(person, "gender"),
        "birth_date": person.birth_date,
        "ethnicity": person.ethnicity,
        "phone": person.phone if reveal else mask_phone(person.phone),
        "kind": person.kind,
        "kind_label": _label(person, "kind"),
        "left_behind": person.left_behind,
        "left_behind_label": _label(person, "left_behind"),
        "native_place": person.native_place,
        "registered_address": person.registered_address,
        "occupation": person.occupation,
        "relation": person.relation,
        "house": ({"id": house.pk, "address": house.address, "building_id": house.building_id}
                  if house is not None else None),
        "address": house.address if house is not None else "",
        "household_id": person.household_id,
        "grid": _grid(person),
        "moved_in": person.moved_in,
        "reason": person.reason,
        "permit_number": (person.permit_number if reveal
                          else mask_id_number(person.permit_number)),
        "permit_issued": person.permit_issued,
        "permit_expires": person.permit_expires,
        "nationality": person.nationality,
        "visa_expires": person.visa_expires,
        "note": person.note,
        "memberships": [_membership(m) for m in memberships],
        "merged_into": person.merged_into_id,
        "version": person.version,
        "created_at": person.created_at,
        "updated_at": person.updated_at,
        "masked": not reveal,
    }


def present_house(house: House, *, reveal: bool = False) -> dict:
    building = house.building
    return {
        "id": house.pk, "address": house.address, "key": house.key,
        "building": {"id": building.pk, "address": building.address, "lng": building.lng,
                     "lat": building.lat},
        "unit": house.unit, "room": house.room, "use": house.use,
        "use_label": _label(house, "use"),
        "area": float(house.area) if house.area is not None else None,
        "owner_name": house.owner_name,
        "owner_phone": house.owner_phone if reveal else mask_phone(house.owner_phone),
        "grid": _grid(house), "version": house.version,
    }


def present_organisation(organisation: Organisation, *, reveal: bool = False) -> dict:
    o = organisation
    return {
        "id": o.pk, "name": o.name, "credit_code": o.credit_code, "kind": o.kind,
        "kind_label": _label(o, "kind"), "legal_representative": o.legal_representative,
        "phone": o.phone if reveal else mask_phone(o.phone), "industry": o.industry,
        "employees": o.employees, "building_id": o.building_id, "address": o.address,
        "lng": o.lng, "lat": o.lat, "established": o.established, "grid": _grid(o),
        "version": o.version,
    }


def present_member(member: Member, *, reveal: bool = False) -> dict:
    person = member.person
    return {
        **_membership(member),
        "person": {"id": person.pk, "name": person.name,
                   "id_number": (person.id_number if reveal
                                 else mask_id_number(person.id_number)),
                   "phone": person.phone if reveal else mask_phone(person.phone),
                   "address": person.house.address if person.house_id else ""},
        "worker": _user(member.worker), "details": member.details, "note": member.note,
        "grid": _grid(member), "version": member.version,
    }


def present_place(place: KeyPlace, *, reveal: bool = False) -> dict:
    return {
        "id": place.pk, "name": place.name, "kind": place.kind,
        "kind_label": _label(place, "kind"), "level": place.level,
        "level_label": _label(place, "level"), "address": place.address,
        "building_id": place.building_id, "house_id": place.house_id,
        "organisation": ({"id": place.organisation.pk, "name": place.organisation.name}
                         if place.organisation_id else None),
        "contact_name": place.contact_name,
        "contact_phone": place.contact_phone if reveal else mask_phone(place.contact_phone),
        "worker": _user(place.worker), "is_active": place.is_active, "note": place.note,
        "grid": _grid(place), "version": place.version,
    }


#: The personal fields masked wherever they leave this module, and how.
SECRET_FIELDS = {"id_number": mask_id_number, "phone": mask_phone,
                 "permit_number": mask_id_number, "owner_phone": mask_phone,
                 "contact_phone": mask_phone}


def masked(field: str, value):
    """A field's value as it may be shown: masked if it is a secret field."""
    mask = SECRET_FIELDS.get(field)
    return mask(str(value)) if mask and isinstance(value, str) and value else value


def present_change(change: PersonChange) -> dict:
    """One change of a person's record: ``changes`` maps a field to [before,
    after], the secret fields masked."""
    return {"person": change.person_id, "action": change.action, "at": change.at,
            "actor": _user(change.actor) if change.actor_id else None,
            "changes": {field: ([masked(field, v) for v in pair] if isinstance(pair, list)
                                else masked(field, pair))
                        for field, pair in (change.changes or {}).items()}}


def may_reveal(user: User) -> bool:
    return bool(user.is_superuser or user.role in REVEAL_ROLES)


def reveal_person(*, request, actor: User, person: Person, reason: str = "") -> dict:
    """One person with the identity number and the phone unmasked, for a role
    of ``REVEAL_ROLES`` inside its scope; each time one access-log row."""
    if not may_reveal(actor):
        raise PermissionDenied(gettext("Your role may not see full identity numbers and "
                                       "phones."), code="forbidden")
    person = person_for(Scope.for_user(actor), person.pk)
    record_unmasked_view(request=request, user=actor, obj=person,
                         fields=["id_number", "phone"],
                         reason=reason or "registry: person shown in full")
    return present_person(person, reveal=True)
