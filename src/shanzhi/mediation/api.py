"""The mediation API: the list and the intake of disputes, the centres with
today's roster, the agreement as a PDF; the detail, timeline, attachments and
workflow actions come from the case engine's routes (``cases.api``). Views
parse, call a service, present. Parties' identity and phone numbers are
always masked here."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Any, Literal

from django.http import HttpRequest, HttpResponse
from ninja import Path, Router, Status
from pydantic import BaseModel, ConfigDict, Field

from shanzhi.accounts.models import User
from shanzhi.accounts.scope import Scope
from shanzhi.cases import selectors as case_selectors
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
    multipart,
    page,
    validate,
)
from shanzhi.cases.engine import MAX_NOTE, MAX_REASON
from shanzhi.core.input import Out, errors, longest

from . import selectors, services
from .case import MEDIATION_CASE
from .models import MediationCase, MediationSource, MediationState, Party

router = Router(tags=["mediation"])
CaseKey = Annotated[str, Path(pattern=r"^[A-Za-z0-9]{1,40}$",
                              description="the case's number (TJ…) or id")]


# ---------------------------------------------------------------- input

class PartyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: Literal["applicant", "respondent"] = "applicant"
    kind: Literal["person", "organisation"] = "person"
    name: str = Field(max_length=100)
    id_number: str = Field("", max_length=32)
    phone: str = Field("", max_length=32)
    address: str = Field("", max_length=200)
    vulnerable: bool = False


class CaseIn(BaseModel):
    """A dispute taken in at a centre. Give the place as ``lng``/``lat`` (in
    ``crs``) or a ``region`` code (and a ``grid`` code); without either, the
    centre's region."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    source: MediationSource
    centre: str = Field(max_length=32)
    dispute_type: str = Field(max_length=16)
    title: str = Field(**longest(services.MAX_TITLE))
    description: str = Field(**longest(services.MAX_DESCRIPTION))
    parties: list[PartyIn] = Field(max_length=services.MAX_PARTIES)
    amount: Decimal | None = Field(None, ge=0, max_digits=14, decimal_places=2)
    people: int = Field(1, ge=1, le=1_000_000)
    visits: int = Field(1, ge=1, le=1_000_000)
    threat: bool = False
    vulnerable: bool = False
    lng: float | None = Field(None, ge=-180, le=180)
    lat: float | None = Field(None, ge=-90, le=90)
    crs: str = Field("wgs84", pattern=r"^(?i:wgs84|gcj02|bd09)$")
    region: str | None = Field(None, max_length=32)
    grid: str | None = Field(None, max_length=32)
    incident_number: str = Field("", max_length=32)
    referred_from: str | None = Field(None, max_length=40)


class MediationActionIn(BaseModel):
    """Fields of a workflow action; each action uses the ones it needs."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    version: int | None = Field(None, ge=1, le=2**31 - 1)
    note: str = Field("", **longest(MAX_NOTE))
    reason: str = Field("", **longest(MAX_REASON))
    assignee: str = Field("", max_length=150)
    centre: str = Field("", max_length=32)
    held_at: dt.datetime | None = None
    place: str = Field("", max_length=100)
    participants: str = Field("", max_length=300)
    terms: list[str] = Field(default_factory=list, max_length=services.MAX_TERMS)
    outcome: Literal["agreement", "partial"] = "agreement"
    performance: str = Field("", **longest(MAX_NOTE))
    judicial_confirmation: bool = False
    route: Literal["", "arbitration", "litigation", "petition"] = ""
    holds: bool | None = None
    amount: float | None = Field(None, ge=0)
    unit: Literal["working_days", "working_hours", "natural_hours"] = "working_days"
    level: Literal["yellow", "red", "black"] = "yellow"


ACTION_FIELDS = {
    "assign": ["assignee", "note"], "transfer": ["centre", "reason"], "refer_up": ["reason"],
    "record_session": ["note", "held_at", "place", "participants"],
    "agree": ["terms", "outcome", "performance", "judicial_confirmation", "note"],
    "refer_out": ["route", "reason"], "follow_up": ["note", "holds"], "close": ["note"],
    "reopen": ["reason"], "withdraw": ["reason"],
    "request_extension": ["reason", "amount", "unit"], "approve_extension": ["note"],
    "refuse_extension": ["reason"], "supervise": ["note", "level"],
}
PHOTO_ACTIONS = {"follow_up"}


# ---------------------------------------------------------------- output

class NamedOut(Out):
    code: str
    name: str


class MediatorOut(Out):
    username: str
    name: str


class PartyOut(Out):
    role: str
    kind: str
    name: str
    id_number: str
    phone: str
    address: str
    vulnerable: bool


class SessionOut(Out):
    held_at: dt.datetime
    place: str
    participants: str
    notes: str


class LinkOut(Out):
    type: str
    number: str
    relation: str
    direction: str
    url: str


class CaseOut(Out):
    """A dispute in a list (the detail adds what acting on it needs)."""

    id: int
    number: str
    state: MediationState
    state_label: str
    version: int
    source: str
    dispute_type: str
    title: str
    centre: NamedOut
    region: NamedOut
    grid: NamedOut | None
    risk_level: str
    risk_reasons: list[str]
    escalation: bool
    mediator: MediatorOut | None
    department: NamedOut | None
    outcome: str
    created_at: dt.datetime
    updated_at: dt.datetime
    closed_at: dt.datetime | None
    stage: str | None
    due_at: dt.datetime | None
    warn_at: dt.datetime | None
    light: Literal["", "green", "yellow", "red"]
    overdue: bool


class CaseDetailOut(CaseOut):
    description: str
    amount: Decimal | None
    people: int
    visits: int
    threat: bool
    vulnerable: bool
    incident_number: str
    referred_from: str | None
    route: str
    terms: list[str]
    performance: str
    judicial_confirmation: bool
    agreed_at: dt.datetime | None
    holds: bool | None
    pending_extension: dict[str, Any] | None
    counters: dict[str, int]
    parties: list[PartyOut]
    sessions: list[SessionOut]
    links: list[LinkOut]
    attachments: list[AttachmentOut]
    stages: list[StageOut]
    actions: list[str]


class CasePage(Out):
    count: int
    limit: int
    offset: int
    items: list[CaseOut]


class RosterOut(Out):
    department: NamedOut
    mode: str
    note: str


class CentreOut(Out):
    code: str
    name: str
    region: NamedOut
    address: str
    phone: str
    roster: list[RosterOut]


def _named(obj) -> dict | None:
    return None if obj is None else {"code": obj.code, "name": obj.name}


def party_out(p: Party) -> dict:
    id_number, phone = services.masked_numbers(p)
    return {"role": p.role, "kind": p.kind, "name": p.name, "id_number": id_number,
            "phone": phone, "address": p.address, "vulnerable": p.vulnerable}


def case_out(case: MediationCase, *, actor: User, detail: bool = False) -> dict:
    out = {
        "id": case.pk, "number": case.number, "state": case.state,
        "state_label": str(MediationState(case.state).label), "version": case.version,
        "source": case.source, "dispute_type": case.dispute_type, "title": case.title,
        "centre": _named(case.centre), "region": _named(case.region),
        "grid": _named(case.grid) if case.grid_id else None,
        "risk_level": case.risk_level, "risk_reasons": case.risk_reasons,
        "escalation": case.escalation,
        "mediator": ({"username": case.mediator.username, "name": str(case.mediator)}
                     if case.mediator_id else None),
        "department": _named(case.department) if case.department_id else None,
        "outcome": case.outcome, "created_at": case.created_at, "updated_at": case.updated_at,
        "closed_at": case.closed_at, "stage": case.stage or None, "due_at": case.due_at,
        "warn_at": case.warn_at, "light": selectors.light(case), "overdue": case.overdue,
    }
    if not detail:
        return out
    out.update({
        "description": case.description, "amount": case.amount, "people": case.people,
        "visits": case.visits, "threat": case.threat, "vulnerable": case.vulnerable,
        "incident_number": case.incident_number,
        "referred_from": case.referred_from.number if case.referred_from_id else None,
        "route": case.route, "terms": case.terms, "performance": case.performance,
        "judicial_confirmation": case.judicial_confirmation, "agreed_at": case.agreed_at,
        "holds": case.holds, "pending_extension": case.pending_extension,
        "counters": {name: getattr(case, f"{name}_count") for name in (
            "supervise", "extension", "escalate", "reopen")},
        "parties": [party_out(p) for p in case.parties.all()],
        "sessions": [{"held_at": s.held_at, "place": s.place, "participants": s.participants,
                      "notes": s.notes} for s in case.sessions.all()],
        "links": case_selectors.links(MEDIATION_CASE, case),
        **case_parts(MEDIATION_CASE, case),
        "actions": services.available_actions(actor=actor, case=case),
    })
    return out


# ---------------------------------------------------------------- endpoints

@router.get("/mediation/cases", response={200: CasePage, **errors()},
            summary="Mediation cases in my territory")
def case_list(request: HttpRequest, state: Filter = "", dispute_type: Filter = "",
              risk: Filter = "", centre: Filter = "",
              light: Literal["", "green", "yellow", "red"] = "", q: Filter = "",
              limit: Limit = 50, offset: Offset = 0):
    actor = actor_of(request)
    qs = selectors.cases_list(scope=Scope.for_user(actor), state=state or None,
                              dispute_type=dispute_type or None, risk=risk or None,
                              centre=centre or None, light=light or None, q=q or None)
    return page(qs, limit, offset, lambda c: case_out(c, actor=actor))


@router.post("/mediation/cases", summary="Register a dispute at a mediation centre",
             response={200: CaseDetailOut, 201: CaseDetailOut, **errors(403, 413, 422)},
             openapi_extra={"requestBody": {"required": True, "content": {
                 "application/json": {"schema": CaseIn.model_json_schema()},
                 "multipart/form-data": {"schema": multipart(CaseIn)}}}})
def case_register(request: HttpRequest, idempotency_key: IdempotencyKey = None):
    """Send an ``Idempotency-Key`` header: a retry with the same key and the
    same content returns the first case (200) instead of a new one (201)."""
    actor = actor_of(request)
    data, _photos = body(request)
    sent = validate(CaseIn, data)
    case, created = services.case_register(actor=actor, idempotency_key=idempotency_key,
                                           **sent.model_dump())
    case = services.case_for_actor(actor=actor, case_id=case.pk)
    return Status(201 if created else 200, case_out(case, actor=actor, detail=True))


@router.get("/mediation/cases/{case_id}/agreement.pdf",
            response={200: None, **errors(404, 409)},
            openapi_extra={"responses": {200: {"description": "the agreement", "content": {
                "application/pdf": {"schema": {"type": "string", "format": "binary"}}}}}},
            summary="The mediation agreement (人民调解协议书) as a PDF, numbers masked")
def agreement_pdf(request: HttpRequest, case_id: CaseKey):
    actor = actor_of(request)
    case = services.case_for_actor(actor=actor, case_id=case_id)
    response = HttpResponse(services.agreement_pdf(case), content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{case.number}.pdf"'
    response["Cache-Control"] = "private, no-store"
    return response


@router.get("/mediation/centres", response={200: list[CentreOut], **errors()},
            summary="The mediation centres serving my territory, with today's roster")
def centre_list(request: HttpRequest):
    actor = actor_of(request)
    return [{"code": c.code, "name": c.name, "region": _named(c.region), "address": c.address,
             "phone": c.phone,
             "roster": [{"department": _named(e.department), "mode": e.mode, "note": e.note}
                        for e in selectors.roster(c)]}
            for c in selectors.centres_visible(Scope.for_user(actor))]


case_routes(router, MEDIATION_CASE, key="case_id", detail_out=CaseDetailOut,
            present=case_out, action_in=MediationActionIn, action_fields=ACTION_FIELDS,
            photo_actions=PHOTO_ACTIONS, services=services.ACTIONS,
            name="mediation_case", noun="mediation case")
