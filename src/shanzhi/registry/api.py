"""The registry API (人地事物组织): people, houses, organisations, special-group
members, key places, the follow-up rules, and the follow-up tasks (a case
type: detail, timeline, attachments and actions come from ``cases.api``).

Views parse, call a service or selector, present. Scope and masking are the
selectors' (``selectors.visible``, ``present_*``): every answer shows
identity numbers and phones masked, but for one person on explicit request
(``GET …/people/{id}?reveal=true``) by a role that may, written to the
access log."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from django.db import transaction
from django.http import HttpRequest
from django.utils.translation import gettext
from ninja import Path, Query, Router, Status
from pydantic import BaseModel, ConfigDict, Field

from shanzhi.accounts.models import User
from shanzhi.accounts.scope import Scope
from shanzhi.cases import engine
from shanzhi.cases.api import (
    AttachmentOut,
    Filter,
    IdempotencyKey,
    Limit,
    Offset,
    StageOut,
    actor_of,
    body,
    case_parts,
    case_routes,
    page,
    validate,
)
from shanzhi.cases.engine import MAX_NOTE, MAX_REASON
from shanzhi.cases.lights import light as case_light
from shanzhi.core.errors import NotFound
from shanzhi.core.input import MAX_ID, AsciiInt, Id, Out, errors, longest

from . import places, selectors, services, visits
from . import workflow as wf
from .case import VISIT_CASE
from .models import (
    Building,
    FollowUpRule,
    Group,
    Person,
    RiskLevel,
    Visit,
    VisitKind,
    VisitState,
)

router = Router(tags=["registry"])
Key = Annotated[AsciiInt, Path(ge=1, le=MAX_ID, description="the record's id")]


def _body(model: type[BaseModel], *, required: bool = True) -> dict:
    return {"requestBody": {"required": required, "content": {
        "application/json": {"schema": model.model_json_schema()}}}}


# ---------------------------------------------------------------- input

class PersonFields(BaseModel):
    """A person's fields. Codes or their labels as people read them: gender
    ``1``/``2`` (GB/T 2261.1) or 男/女; kind ``registered``, ``migrant``,
    ``overseas``; dates ``YYYY-MM-DD``. The services check every field and
    name the rule a value breaks."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(None, max_length=100)
    former_name: str = Field("", max_length=100)
    id_type: str = Field("resident", max_length=16,
                         description="resident, passport, hkmt or permanent")
    id_number: str = Field(None, max_length=32, description="GB 11643 for a resident card")
    gender: str = Field(None, max_length=8, description="1 (male) or 2 (female)")
    birth_date: str = Field("", max_length=20)
    ethnicity: str = Field("", max_length=8, description="GB/T 3304 (01 汉族 …)")
    phone: str = Field(None, max_length=32)
    kind: str = Field("registered", max_length=16,
                      description="registered, migrant or overseas")
    left_behind: str = Field("", max_length=8, description="child, elder, woman or empty")
    native_place: str = Field("", max_length=6, description="GB/T 2260 code")
    registered_address: str = Field("", max_length=200)
    occupation: str = Field("", max_length=50)
    grid: str | None = Field(None, max_length=32, description="the grid's code")
    house: Id | None = Field(None, description="the house's id")
    relation: str = Field("", max_length=16)
    moved_in: str = Field("", max_length=20)
    reason: str = Field("", max_length=50)
    permit_number: str = Field("", max_length=32)
    permit_issued: str = Field("", max_length=20)
    permit_expires: str = Field("", max_length=20)
    nationality: str = Field("", max_length=3, description="GB/T 2659")
    visa_expires: str = Field("", max_length=20)
    note: str = Field("", **longest(MAX_NOTE))


class PersonIn(PersonFields):
    """A new person: at least ``name``, ``id_number``, ``gender``, ``phone``
    and the place, a ``grid`` code or a ``house`` id."""

    name: str = Field(max_length=100)
    id_number: str = Field(max_length=32, description="GB 11643 for a resident card")
    gender: str = Field(max_length=8, description="1 (male) or 2 (female), or 男/女")
    phone: str = Field(max_length=32)


class PersonEditIn(PersonFields):
    """The fields to change (the others stay), and the ``version`` you read."""

    version: int = Field(ge=1, le=2**31 - 1)


class MergeIn(BaseModel):
    """The person of the address keeps; ``duplicate`` (the same person
    registered twice) is merged into them and then points to them."""

    model_config = ConfigDict(extra="forbid")
    duplicate: Id


class HouseFields(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    unit: str = Field("", max_length=20)
    room: str = Field(None, max_length=20)
    use: Literal["own", "rented", "empty", "business", "other"] = "own"
    area: float | None = Field(None, gt=0, lt=100_000, description="m²")
    owner_name: str = Field("", max_length=100)
    owner_phone: str = Field("", max_length=32)


class HouseIn(HouseFields):
    """A house (flat) in a building you reach."""

    building: Id
    room: str = Field(max_length=20)


class HouseEditIn(HouseFields):
    version: int = Field(ge=1, le=2**31 - 1)


class OrganisationFields(BaseModel):
    """An organisation. ``credit_code``: the unified social credit code (GB 32100)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    name: str = Field(None, max_length=200)
    credit_code: str = Field(None, max_length=18)
    kind: str = Field("company", max_length=16, description="company, sole, social or public")
    legal_representative: str = Field("", max_length=100)
    phone: str = Field("", max_length=32)
    industry: str = Field("", max_length=50)
    employees: int | None = Field(None, ge=0, le=10_000_000)
    building: Id | None = None
    grid: str | None = Field(None, max_length=32, description="the grid's code")
    address: str = Field("", max_length=200)
    lng: float | None = Field(None, ge=-180, le=180)
    lat: float | None = Field(None, ge=-90, le=90)
    established: str = Field("", max_length=20)


class OrganisationIn(OrganisationFields):
    name: str = Field(max_length=200)
    credit_code: str = Field(max_length=18)


class OrganisationEditIn(OrganisationFields):
    version: int = Field(ge=1, le=2**31 - 1)


class MemberIn(BaseModel):
    """A person joins a special group (followed up by the group's rule)."""

    model_config = ConfigDict(extra="forbid")
    person: Id
    group: Group
    level: RiskLevel = RiskLevel.LOW
    since: dt.date = Field(description="not in the future")
    worker: str = Field("", max_length=150, description="a grid worker's username")
    details: dict[str, Any] | None = None
    note: str = Field("", **longest(MAX_NOTE))


class MemberEditIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: int = Field(ge=1, le=2**31 - 1)
    level: RiskLevel = None  # type: ignore[assignment]
    worker: str = Field(None, max_length=150,
                        description="a grid worker's username (empty: none)")
    details: dict[str, Any] = None  # type: ignore[assignment]
    note: str = Field(None, **longest(MAX_NOTE))


class MemberEndIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: int | None = Field(None, ge=1, le=2**31 - 1)
    ended_on: dt.date | None = Field(None, description="today if not given; not in the future")
    note: str = Field("", **longest(MAX_NOTE))


class PlaceFields(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(None, max_length=200)
    kind: str = Field(None, max_length=16,
                      description="fire, rental, crowd, chemical, entertainment or other")
    level: RiskLevel = RiskLevel.LOW
    grid: str | None = Field(None, max_length=32, description="the grid's code")
    building: Id | None = None
    house: Id | None = None
    organisation: Id | None = None
    address: str = Field("", max_length=240)
    contact_name: str = Field("", max_length=100)
    contact_phone: str = Field("", max_length=32)
    worker: str = Field("", max_length=150, description="a grid worker's username")
    is_active: bool = True
    note: str = Field("", **longest(MAX_NOTE))


class PlaceIn(PlaceFields):
    name: str = Field(max_length=200)
    kind: str = Field(max_length=16,
                      description="fire, rental, crowd, chemical, entertainment or other")


class PlaceEditIn(PlaceFields):
    version: int = Field(ge=1, le=2**31 - 1)


class RuleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    group: Group
    level: RiskLevel
    interval: int = Field(ge=1, le=366, description="working days between visits")


class RulesIn(BaseModel):
    """The follow-up rules to set (a group and level not sent keeps its rule)."""

    model_config = ConfigDict(extra="forbid")
    rules: list[RuleIn] = Field(min_length=1, max_length=len(Group) * len(RiskLevel))


class VisitActionIn(BaseModel):
    """Fields of a follow-up action; each action uses the ones it needs."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    version: int | None = Field(None, ge=1, le=2**31 - 1)
    note: str = Field("", **longest(MAX_NOTE))
    reason: str = Field("", **longest(MAX_REASON))
    finding: Literal["", "normal", "concern", "alert", "absent"] = ""
    lng: float | None = Field(None, ge=-180, le=180)
    lat: float | None = Field(None, ge=-90, le=90)
    accuracy: float | None = Field(None, ge=0, le=visits.MAX_ACCURACY,
                                   description="metres (the phone's estimate)")
    permit_expires: dt.date | None = Field(None, description="a renewed permit's new end")
    assignee: str = Field("", max_length=150)
    amount: float | None = Field(None, ge=0)
    unit: Literal["working_days", "working_hours", "natural_hours"] = "working_days"
    level: Literal["yellow", "red", "black"] = "yellow"


VISIT_ACTION_FIELDS = {
    "record": ["note", "finding", "lng", "lat", "accuracy", "permit_expires"],
    "reassign": ["assignee", "note"], "cancel": ["reason"],
    "request_extension": ["reason", "amount", "unit"], "approve_extension": ["note"],
    "refuse_extension": ["reason"], "supervise": ["note", "level"],
}
VISIT_PHOTO_ACTIONS = {"record"}


# ---------------------------------------------------------------- output

class NamedOut(Out):
    code: str
    name: str


class GridOut(Out):
    id: int
    code: str
    name: str


class UserOut(Out):
    id: int
    username: str
    name: str


class WorkerOut(Out):
    username: str
    name: str


class HouseRefOut(Out):
    id: int
    address: str
    building_id: int


class MembershipOut(Out):
    id: int
    group: str
    group_label: str
    level: str
    level_label: str
    since: dt.date
    ended_on: dt.date | None
    worker_id: int | None


class PersonOut(Out):
    """A person: ``id_number``, ``phone`` and ``permit_number`` masked
    (``masked`` false only in a revealed answer)."""

    model_config = ConfigDict(extra="allow")
    id: int
    name: str
    former_name: str
    id_type: str
    id_type_label: str
    id_number: str
    gender: str
    gender_label: str
    birth_date: dt.date | None
    ethnicity: str
    phone: str
    kind: str
    kind_label: str
    left_behind: str
    left_behind_label: str
    native_place: str
    registered_address: str
    occupation: str
    relation: str
    house: HouseRefOut | None
    address: str
    household_id: int | None
    grid: GridOut | None
    moved_in: dt.date | None
    reason: str
    permit_number: str
    permit_issued: dt.date | None
    permit_expires: dt.date | None
    nationality: str
    visa_expires: dt.date | None
    note: str
    memberships: list[MembershipOut]
    #: The person this record was merged into (then read that one).
    merged_into: int | None
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime
    masked: bool


class PersonPage(Out):
    count: int
    limit: int
    offset: int
    items: list[PersonOut]


class ChangeOut(Out):
    """One change of a person's record (numbers masked): ``changes`` maps a
    field to [before, after]."""

    person: int
    action: str
    at: dt.datetime
    actor: WorkerOut | None
    changes: dict[str, Any]


class BuildingRefOut(Out):
    id: int
    address: str
    lng: float
    lat: float


class HouseOut(Out):
    """A house, its owner's phone masked."""

    model_config = ConfigDict(extra="allow")
    id: int
    address: str
    key: str
    building: BuildingRefOut
    unit: str
    room: str
    use: str
    use_label: str
    area: float | None
    owner_name: str
    owner_phone: str
    grid: GridOut | None
    version: int


class HouseholdOut(Out):
    id: int
    number: str
    kind: str
    registered: bool
    head: int | None


class HouseDetailOut(HouseOut):
    households: list[HouseholdOut]
    #: The people living there (numbers masked).
    people: list[PersonOut]


class HousePage(Out):
    count: int
    limit: int
    offset: int
    items: list[HouseOut]


class OrganisationOut(Out):
    """An organisation, its phone masked."""

    model_config = ConfigDict(extra="allow")
    id: int
    name: str
    credit_code: str
    kind: str
    kind_label: str
    legal_representative: str
    phone: str
    industry: str
    employees: int | None
    building_id: int | None
    address: str
    lng: float | None
    lat: float | None
    established: dt.date | None
    grid: GridOut | None
    version: int


class OrganisationPage(Out):
    count: int
    limit: int
    offset: int
    items: list[OrganisationOut]


class MemberPersonOut(Out):
    id: int
    name: str
    id_number: str
    phone: str
    address: str


class MemberOut(MembershipOut):
    """A special-group membership, the person's numbers masked."""

    model_config = ConfigDict(extra="allow")
    person: MemberPersonOut
    worker: UserOut | None
    details: dict[str, Any]
    note: str
    grid: GridOut | None
    version: int


class MemberPage(Out):
    count: int
    limit: int
    offset: int
    items: list[MemberOut]


class RefOut(Out):
    id: int
    name: str


class PlaceOut(Out):
    """A key place, its contact's phone masked."""

    model_config = ConfigDict(extra="allow")
    id: int
    name: str
    kind: str
    kind_label: str
    level: str
    level_label: str
    address: str
    building_id: int | None
    house_id: int | None
    organisation: RefOut | None
    contact_name: str
    contact_phone: str
    worker: UserOut | None
    is_active: bool
    note: str
    grid: GridOut | None
    version: int


class PlacePage(Out):
    count: int
    limit: int
    offset: int
    items: list[PlaceOut]


class RuleOut(Out):
    group: str
    level: str
    interval: int = Field(description="working days between visits")
    #: Whether a rule sets it (else the default of its level).
    custom: bool


class VisitPersonOut(Out):
    id: int
    name: str


class VisitMemberOut(Out):
    id: int
    group: str
    level: str


class VisitOut(Out):
    """A follow-up task in a list (the detail adds what acting on it needs)."""

    id: int
    number: str
    state: VisitState
    state_label: str
    version: int
    kind: VisitKind
    kind_label: str
    grid: NamedOut
    person: VisitPersonOut | None
    member: VisitMemberOut | None
    place: RefOut | None
    worker: WorkerOut | None
    interval: int = Field(description="the working days the rule gave this task")
    created_at: dt.datetime
    updated_at: dt.datetime
    closed_at: dt.datetime | None
    due_at: dt.datetime | None
    warn_at: dt.datetime | None
    light: Literal["", "green", "yellow", "red"]
    overdue: bool
    visited_at: dt.datetime | None
    finding: str
    note: str
    lng: float | None
    lat: float | None
    accuracy: float | None


class VisitDetailOut(VisitOut):
    stage: str | None
    pending_extension: dict[str, Any] | None
    counters: dict[str, int]
    attachments: list[AttachmentOut]
    stages: list[StageOut]
    actions: list[str]


class VisitPage(Out):
    count: int
    limit: int
    offset: int
    items: list[VisitOut]


def _named(obj) -> dict | None:
    return None if obj is None else {"code": obj.code, "name": obj.name}


def _worker(user: User | None) -> dict | None:
    return None if user is None else {"username": user.username, "name": str(user)}


def visit_out(case: Visit, *, actor: User, detail: bool = False) -> dict:
    person = case.person if case.person_id else None
    out = {
        "id": case.pk, "number": case.number, "state": case.state,
        "state_label": str(VisitState(case.state).label), "version": case.version,
        "kind": case.kind, "kind_label": str(VisitKind(case.kind).label),
        "grid": _named(case.grid),
        "person": {"id": person.pk, "name": person.name} if person else None,
        "member": ({"id": case.member.pk, "group": case.member.group,
                    "level": case.member.level} if case.member_id else None),
        "place": ({"id": case.place.pk, "name": case.place.name} if case.place_id else None),
        "worker": _worker(case.worker) if case.worker_id else None,
        "interval": case.interval, "created_at": case.created_at,
        "updated_at": case.updated_at, "closed_at": case.closed_at, "due_at": case.due_at,
        "warn_at": case.warn_at, "light": case_light(case, wf.OPEN_STATES),
        "overdue": case.overdue, "visited_at": case.visited_at,
        "finding": case.finding, "note": case.note, "lng": case.lng, "lat": case.lat,
        "accuracy": case.accuracy,
    }
    if not detail:
        return out
    out.update({
        "stage": case.stage or None, "pending_extension": case.pending_extension,
        "counters": {"supervise": case.supervise_count, "extension": case.extension_count},
        **case_parts(VISIT_CASE, case),
        "actions": visits.available_actions(actor=actor, case=case),
    })
    return out


# ---------------------------------------------------------------- helpers

def _scope(request: HttpRequest) -> tuple[User, Scope]:
    actor = actor_of(request)
    return actor, Scope.for_user(actor)


def _sent(model: type[BaseModel], request: HttpRequest) -> dict:
    """The body's fields that were sent, checked by ``model``."""
    data, _photos = body(request)
    return validate(model, data).model_dump(exclude_unset=True)


def _edit(model: type[BaseModel], request: HttpRequest) -> tuple[int, dict]:
    """The ``version`` read and the fields to change."""
    data = _sent(model, request)
    return data.pop("version"), data


class _PersonCreation:
    """What ``engine.create_once`` reads of a kind, for a person: a retried
    registration with the same Idempotency-Key answers the first person."""

    name = "registry_person"
    model = Person

    @staticmethod
    def number(person: Person) -> str:
        return str(person.pk)

    @staticmethod
    def message(key: str) -> str:
        return gettext("This Idempotency-Key was used for another request, already recorded "
                       "as person %(number)s.")


# ---------------------------------------------------------------- people

@router.get("/registry/people", response={200: PersonPage, **errors()},
            summary="People in my territory (numbers masked)")
def person_list(request: HttpRequest, q: Filter = "", kind: Filter = "", grid: Filter = "",
                house: Annotated[AsciiInt | None, Query(ge=1, le=MAX_ID)] = None,
                group: Filter = "", left_behind: Filter = "",
                permit_expiring: Annotated[AsciiInt | None, Query(ge=0, le=3660)] = None,
                limit: Limit = 50, offset: Offset = 0):
    """``q``: a whole identity number, the beginning of one or of a phone (4
    digits or more), an address, or the beginning of a name. ``kind``,
    ``group``: codes (comma-separated); ``grid``: a grid code; ``house``: a
    house id; ``left_behind``: child, elder, woman or ``any``;
    ``permit_expiring``: migrants whose residence permit ends within that
    many days (soonest first)."""
    _actor, scope = _scope(request)
    qs = selectors.people_list(scope=scope, q=q or None, kind=kind or None, grid=grid or None,
                               house=house, group=group or None,
                               left_behind=left_behind or None,
                               permit_expiring=permit_expiring)
    return page(qs, limit, offset, selectors.present_person)


@router.post("/registry/people", summary="Register a person",
             response={200: PersonOut, 201: PersonOut, **errors(403, 404, 409, 422)},
             openapi_extra=_body(PersonIn))
def person_create(request: HttpRequest, idempotency_key: IdempotencyKey = None):
    """201 with the new person (masked). A duplicate identity number is a 409
    (code ``duplicate``) naming the registered person, masked, when they are
    in your territory, plain otherwise. Send an ``Idempotency-Key`` header: a
    retry with the same key and content answers the first person (200); the
    same key with other content, 422."""
    actor, scope = _scope(request)
    sent = _sent(PersonIn, request)
    engine.check_idempotency_key(idempotency_key)
    person, created = engine.create_once(
        _PersonCreation, owner=f"user:{actor.pk}", key=idempotency_key,  # type: ignore[arg-type]
        fingerprint=engine.request_hash(sent),
        create=lambda: services.person_create(actor=actor, data=sent, source="api"))
    person = selectors.person_for(scope, person.pk)
    return Status(201 if created else 200, selectors.present_person(person))


@router.get("/registry/people/{person_id}", response={200: PersonOut, **errors(403, 404)},
            summary="One person (masked; ?reveal=true unmasked, in the access log)")
def person_detail(request: HttpRequest, person_id: Key, reveal: bool = False):
    """``reveal=true`` answers the identity number and phone unmasked, to a
    city administrator, an operator or a grid worker (403 for others); each
    such view is written to the access log."""
    actor, scope = _scope(request)
    person = selectors.person_for(scope, person_id)
    if reveal:
        return selectors.reveal_person(request=request, actor=actor, person=person,
                                       reason="api: GET registry/people/{id}?reveal=true")
    return selectors.present_person(person)


@router.patch("/registry/people/{person_id}", response={200: PersonOut, **errors(403, 404, 409)},
              openapi_extra=_body(PersonEditIn), summary="Change a person's record")
def person_edit(request: HttpRequest, person_id: Key):
    """Send the fields to change and the ``version`` you read: if someone
    changed the person since, 409 (code ``stale``: reload and try again)."""
    actor, scope = _scope(request)
    person = selectors.person_for(scope, person_id)
    version, data = _edit(PersonEditIn, request)
    services.person_update(actor=actor, person=person, version=version, data=data)
    return selectors.present_person(selectors.person_for(scope, person_id))


@router.get("/registry/people/{person_id}/history",
            response={200: list[ChangeOut], **errors(404)},
            summary="Every change of a person's record (and of those merged into it)")
def person_history(request: HttpRequest, person_id: Key):
    _actor, scope = _scope(request)
    person = selectors.person_for(scope, person_id)
    return [selectors.present_change(c) for c in services.person_history(person)]


@router.post("/registry/people/{person_id}/merge",
             response={200: PersonOut, **errors(403, 404, 409)}, openapi_extra=_body(MergeIn),
             summary="Merge a duplicate into this person (city administrators and operators)")
def person_merge(request: HttpRequest, person_id: Key):
    """The duplicate's memberships, follow-up tasks and household move to
    this person, what this record lacks is copied from it; both histories
    stay (``…/history``). 409 when one of them was merged already."""
    actor, scope = _scope(request)
    keep = selectors.person_for(scope, person_id)
    sent = _sent(MergeIn, request)
    duplicate = selectors.person_for(scope, sent["duplicate"])
    services.person_merge(actor=actor, keep=keep, duplicate=duplicate)
    return selectors.present_person(selectors.person_for(scope, person_id))


# ---------------------------------------------------------------- houses

@router.get("/registry/houses", response={200: HousePage, **errors()},
            summary="Houses in my territory (owners' phones masked)")
def house_list(request: HttpRequest, q: Filter = "", grid: Filter = "",
               building: Annotated[AsciiInt | None, Query(ge=1, le=MAX_ID)] = None,
               limit: Limit = 50, offset: Offset = 0):
    """``q``: an address (or its beginning); ``grid``: a grid code;
    ``building``: a building id."""
    _actor, scope = _scope(request)
    qs = selectors.houses_list(scope=scope, q=q or None, grid=grid or None, building=building)
    return page(qs, limit, offset, selectors.present_house)


def _house_detail(scope: Scope, pk: int) -> dict:
    house = selectors.house_for(scope, pk)
    people = (selectors.visible(scope, Person).filter(house=house, merged_into__isnull=True)
              .select_related("house", "grid").defer("grid__geometry")
              .prefetch_related("memberships").order_by("name", "id"))
    return {**selectors.present_house(house),
            "households": [{"id": h.pk, "number": h.number, "kind": h.kind,
                            "registered": h.registered, "head": h.head_id}
                           for h in house.households.all()],
            "people": [selectors.present_person(p) for p in people]}


@router.post("/registry/houses", summary="Add a house (flat) to a building",
             response={201: HouseDetailOut, **errors(403, 404, 409)},
             openapi_extra=_body(HouseIn))
def house_create(request: HttpRequest):
    """409 (code ``duplicate``) when the building has that unit and room already."""
    actor, scope = _scope(request)
    sent = _sent(HouseIn, request)
    building = selectors.visible(scope, Building).filter(pk=sent.pop("building")).first()
    if building is None:
        raise NotFound(gettext("No such building in your territory."), field="building")
    house = places.house_create(actor=actor, building=building, **sent)
    return Status(201, _house_detail(scope, house.pk))


@router.get("/registry/houses/{house_id}", response={200: HouseDetailOut, **errors(404)},
            summary="One house, its households and its people (masked)")
def house_detail(request: HttpRequest, house_id: Key):
    _actor, scope = _scope(request)
    return _house_detail(scope, house_id)


@router.patch("/registry/houses/{house_id}",
              response={200: HouseDetailOut, **errors(403, 404, 409)},
              openapi_extra=_body(HouseEditIn), summary="Change a house")
def house_edit(request: HttpRequest, house_id: Key):
    """Send the fields to change and the ``version`` you read (409 if stale)."""
    actor, scope = _scope(request)
    house = selectors.house_for(scope, house_id)
    version, data = _edit(HouseEditIn, request)
    places.house_update(actor=actor, house=house, version=version, **data)
    return _house_detail(scope, house_id)


# ---------------------------------------------------------------- organisations

@router.get("/registry/organisations", response={200: OrganisationPage, **errors()},
            summary="Organisations in my territory (phones masked)")
def organisation_list(request: HttpRequest, q: Filter = "", kind: Filter = "", grid: Filter = "",
                      limit: Limit = 50, offset: Offset = 0):
    """``q``: a credit code, or the beginning of a name; ``kind``: company,
    sole, social, public (comma-separated); ``grid``: a grid code."""
    _actor, scope = _scope(request)
    qs = selectors.organisations_list(scope=scope, q=q or None, kind=kind or None,
                                      grid=grid or None)
    return page(qs, limit, offset, selectors.present_organisation)


@router.post("/registry/organisations", summary="Register an organisation",
             response={201: OrganisationOut, **errors(403, 404, 409)},
             openapi_extra=_body(OrganisationIn))
def organisation_create(request: HttpRequest):
    """At a building (``building`` id) or in a grid (``grid`` code). A credit
    code registered already is a 409 (code ``duplicate``)."""
    actor, scope = _scope(request)
    organisation = services.organisation_create(actor=actor,
                                                data=_sent(OrganisationIn, request))
    return Status(201, selectors.present_organisation(
        selectors.organisation_for(scope, organisation.pk)))


@router.get("/registry/organisations/{organisation_id}",
            response={200: OrganisationOut, **errors(404)}, summary="One organisation")
def organisation_detail(request: HttpRequest, organisation_id: Key):
    _actor, scope = _scope(request)
    return selectors.present_organisation(selectors.organisation_for(scope, organisation_id))


@router.patch("/registry/organisations/{organisation_id}",
              response={200: OrganisationOut, **errors(403, 404, 409)},
              openapi_extra=_body(OrganisationEditIn), summary="Change an organisation")
def organisation_edit(request: HttpRequest, organisation_id: Key):
    """Send the fields to change and the ``version`` you read (409 if stale)."""
    actor, scope = _scope(request)
    organisation = selectors.organisation_for(scope, organisation_id)
    version, data = _edit(OrganisationEditIn, request)
    services.organisation_update(actor=actor, organisation=organisation, version=version,
                                 data=data)
    return selectors.present_organisation(selectors.organisation_for(scope, organisation_id))


# ---------------------------------------------------------------- special groups

@router.get("/registry/groups", response={200: MemberPage, **errors()},
            summary="Special-group members in my territory (numbers masked)")
def member_list(request: HttpRequest, group: Filter = "", level: Filter = "", grid: Filter = "",
                worker: Filter = "", q: Filter = "", active: bool = True, limit: Limit = 50,
                offset: Offset = 0):
    """``group``: special groups, ``level``: low, medium, high (each
    comma-separated); ``grid``: a grid code; ``worker``: a grid worker's
    username; ``q``: as the people's search; ``active=false``: the
    memberships that ended. Highest risk first."""
    _actor, scope = _scope(request)
    qs = selectors.members_list(scope=scope, group=group or None, level=level or None,
                                grid=grid or None, worker=worker or None, active=active,
                                q=q or None)
    return page(qs, limit, offset, selectors.present_member)


@router.post("/registry/groups", summary="Add a person to a special group",
             response={201: MemberOut, **errors(403, 404, 409)}, openapi_extra=_body(MemberIn))
def member_create(request: HttpRequest):
    """The first follow-up task is planned at once, by the group's rule. 409
    (code ``duplicate``) when the person is in the group already."""
    actor, scope = _scope(request)
    sent = _sent(MemberIn, request)
    person = selectors.person_for(scope, sent.pop("person"))
    member = services.member_create(actor=actor, person=person, group=sent.pop("group"),
                                    level=sent.pop("level", RiskLevel.LOW),
                                    since=sent.pop("since"), **sent)
    return Status(201, selectors.present_member(selectors.member_for(scope, member.pk)))


@router.get("/registry/groups/{member_id}", response={200: MemberOut, **errors(404)},
            summary="One special-group membership")
def member_detail(request: HttpRequest, member_id: Key):
    _actor, scope = _scope(request)
    return selectors.present_member(selectors.member_for(scope, member_id))


@router.patch("/registry/groups/{member_id}", response={200: MemberOut, **errors(403, 404, 409)},
              openapi_extra=_body(MemberEditIn),
              summary="Change a member's risk level, grid worker, details or note")
def member_edit(request: HttpRequest, member_id: Key):
    """A new level or worker replans the open follow-up task (the new
    level's interval). Send the ``version`` you read (409 if stale)."""
    actor, scope = _scope(request)
    member = selectors.member_for(scope, member_id)
    version, data = _edit(MemberEditIn, request)
    services.member_update(actor=actor, member=member, version=version, data=data)
    return selectors.present_member(selectors.member_for(scope, member_id))


@router.post("/registry/groups/{member_id}/end",
             response={200: MemberOut, **errors(403, 404, 409)},
             openapi_extra=_body(MemberEndIn, required=False),
             summary="End a membership (its open follow-up task is cancelled)")
def member_end(request: HttpRequest, member_id: Key):
    """``ended_on``: today if not given. Ending an ended membership answers it
    as it is."""
    actor, scope = _scope(request)
    member = selectors.member_for(scope, member_id)
    services.member_end(actor=actor, member=member, **_sent(MemberEndIn, request))
    return selectors.present_member(selectors.member_for(scope, member_id))


# ---------------------------------------------------------------- key places

@router.get("/registry/places", response={200: PlacePage, **errors()},
            summary="Key places in my territory (contacts' phones masked)")
def place_list(request: HttpRequest, q: Filter = "", kind: Filter = "", level: Filter = "",
               grid: Filter = "", active: bool = True, limit: Limit = 50, offset: Offset = 0):
    """``q``: the beginning of a name or a part of the address; ``kind``,
    ``level``: codes (comma-separated); ``grid``: a grid code."""
    _actor, scope = _scope(request)
    qs = selectors.places_list(scope=scope, q=q or None, kind=kind or None, level=level or None,
                               grid=grid or None, active=active)
    return page(qs, limit, offset, selectors.present_place)


@router.post("/registry/places", summary="Register a key place",
             response={201: PlaceOut, **errors(403, 404, 409)}, openapi_extra=_body(PlaceIn))
def place_create(request: HttpRequest):
    """At a house, a building or in a grid; its first inspection is planned."""
    actor, scope = _scope(request)
    place = services.place_create(actor=actor, data=_sent(PlaceIn, request))
    return Status(201, selectors.present_place(selectors.place_for(scope, place.pk)))


@router.get("/registry/places/{place_id}", response={200: PlaceOut, **errors(404)},
            summary="One key place")
def place_detail(request: HttpRequest, place_id: Key):
    _actor, scope = _scope(request)
    return selectors.present_place(selectors.place_for(scope, place_id))


@router.patch("/registry/places/{place_id}", response={200: PlaceOut, **errors(403, 404, 409)},
              openapi_extra=_body(PlaceEditIn), summary="Change a key place")
def place_edit(request: HttpRequest, place_id: Key):
    """Send the fields to change and the ``version`` you read (409 if stale)."""
    actor, scope = _scope(request)
    place = selectors.place_for(scope, place_id)
    version, data = _edit(PlaceEditIn, request)
    services.place_update(actor=actor, place=place, version=version, data=data)
    return selectors.present_place(selectors.place_for(scope, place_id))


# ---------------------------------------------------------------- follow-up rules

def _rules() -> list[dict]:
    custom = set(FollowUpRule.objects.values_list("group", "level"))
    return [{"group": group, "level": level, "interval": visits.interval_for(group, level),
             "custom": (group, level) in custom}
            for group in Group.values for level in wf.LEVELS]


@router.get("/registry/rules", response={200: list[RuleOut], **errors()},
            summary="The follow-up rules: working days between visits, per group and level")
def rule_list(request: HttpRequest):
    actor_of(request)
    return _rules()


@router.put("/registry/rules", response={200: list[RuleOut], **errors(403)},
            openapi_extra=_body(RulesIn),
            summary="Set follow-up rules (city administrators and operators)")
def rule_put(request: HttpRequest):
    """Every rule sent, or none (a refused one refuses them all). Tasks
    planned from now on follow the new intervals; open ones keep theirs."""
    actor = actor_of(request)
    sent = _sent(RulesIn, request)
    with transaction.atomic():
        for rule in sent["rules"]:
            services.rule_set(actor=actor, **rule)
    return _rules()


# ---------------------------------------------------------------- follow-up tasks

@router.get("/registry/visits", response={200: VisitPage, **errors()},
            summary="Follow-up tasks in my territory, the most urgent first")
def visit_list(request: HttpRequest, state: Filter = "", kind: Filter = "", worker: Filter = "",
               light: Literal["", "green", "yellow", "red"] = "", grid: Filter = "",
               limit: Limit = 50, offset: Offset = 0):
    """``state``: due, done, cancelled (comma-separated); ``kind``: group,
    permit or place; ``worker``: a grid worker's username; ``light``: of the
    open tasks; ``grid``: a grid code."""
    actor, scope = _scope(request)
    who = None
    if worker:
        who = User.objects.filter(username=worker).values_list("pk", flat=True).first() or -1
    qs = visits.visits_list(scope=scope, state=state or None, kind=kind or None, worker=who,
                            light=light or None, grid=grid or None)
    return page(qs, limit, offset, lambda v: visit_out(v, actor=actor))


case_routes(router, VISIT_CASE, key="visit_id", detail_out=VisitDetailOut, present=visit_out,
            action_in=VisitActionIn, action_fields=VISIT_ACTION_FIELDS,
            photo_actions=VISIT_PHOTO_ACTIONS, services=visits.ACTIONS, name="visit",
            noun="follow-up task")
