"""Every change of a mediation case goes through here: intake (walk-in,
hotline, an incident turned into a dispute, a lower centre's referral), then
one service per workflow action, each applied by the case engine's pipeline
(``cases.engine.apply``). What is here is mediation's own: the parties, the
risk, the centre that holds a dispute, who mediates it, the agreement."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping, Sequence
from decimal import Decimal, InvalidOperation
from types import SimpleNamespace

from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext

from shanzhi.accounts.models import Department, Role, User
from shanzhi.accounts.scope import Scope, locate_point
from shanzhi.accounts.staff import centre_operators
from shanzhi.cases import engine, hooks
from shanzhi.cases.engine import MAX_NOTE, check_length
from shanzhi.cases.registry import case_types
from shanzhi.core.errors import Conflict, PermissionDenied, ValidationError
from shanzhi.core.identity import credit_code_valid, id_number_valid
from shanzhi.core.privacy import mask_id_number, mask_phone
from shanzhi.geo.index import get_index
from shanzhi.geo.models import Grid, Level
from shanzhi.geo.selectors import current_region

from . import risk
from . import workflow as wf
from .agreement import APPLICANT, RESPONDENT, AgreementDoc, PartyLine, render_agreement
from .case import MEDIATION_CASE, centre_above
from .models import (
    Centre,
    MediationCase,
    MediationEntry,
    MediationSource,
    Outcome,
    Party,
    RosterEntry,
    Session,
)

MAX_TITLE = 100
MAX_DESCRIPTION = 4000
MAX_PARTIES = 50
MAX_TERMS = 50
MAX_TERM = 1000
MAX_AMOUNT = Decimal("999999999999.99")
CLOCK_SKEW = dt.timedelta(minutes=5)
PARTY_WORDS = {Party.Role.APPLICANT: APPLICANT, Party.Role.RESPONDENT: RESPONDENT}
#: Who may take in a dispute.
REGISTER_ROLES = {Role.OPERATOR, Role.CITY_ADMIN, Role.MEDIATOR}


# ---------------------------------------------------------------- checks

def _text(field: str, value, limit: int, label: str, *, required: bool = True) -> str:
    if value is not None and not isinstance(value, str):
        raise ValidationError(gettext("%(field)s must be text.") % {"field": label}, field=field)
    text = (value or "").strip()
    if required and not text:
        raise ValidationError(gettext("%(field)s is required.") % {"field": label}, field=field)
    check_length(field, text, limit, label)
    return text


def _count(field: str, value, label: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 1_000_000:
        raise ValidationError(gettext("%(field)s must be a whole number of at least 1.")
                              % {"field": label}, field=field)
    return value


def _amount(value) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        amount = Decimal(str(value)) if not isinstance(value, bool) else None
    except InvalidOperation:
        amount = None
    if amount is None or not amount.is_finite() or not 0 <= amount <= MAX_AMOUNT:
        raise ValidationError(gettext("The amount must be a number of yuan from 0 to "
                                      "999,999,999,999.99."), field="amount")
    return amount.quantize(Decimal("0.01"))


def _parties(parties, today: dt.date) -> list[Party]:
    if not isinstance(parties, list | tuple) or not parties:
        raise ValidationError(gettext("Name at least one party."), field="parties")
    if len(parties) > MAX_PARTIES:
        raise ValidationError(gettext("At most %(n)d parties.") % {"n": MAX_PARTIES},
                              field="parties")
    out = []
    for i, raw in enumerate(parties):
        field = f"parties[{i}]"
        if not isinstance(raw, Mapping):
            raise ValidationError(gettext("A party must be an object."), field=field)
        role = raw.get("role") or Party.Role.APPLICANT
        kind = raw.get("kind") or Party.Kind.PERSON
        if role not in Party.Role.values:
            raise ValidationError(gettext("A party's role is applicant or respondent."),
                                  field=f"{field}.role")
        if kind not in Party.Kind.values:
            raise ValidationError(gettext("A party's kind is person or organisation."),
                                  field=f"{field}.kind")
        name = _text(f"{field}.name", raw.get("name"), 100, gettext("Name"))
        number = _text(f"{field}.id_number", raw.get("id_number"), 32,
                       gettext("Identity number"), required=False).upper()
        if number and kind == Party.Kind.PERSON and not id_number_valid(number, today=today):
            raise ValidationError(gettext("%(name)s: not a valid identity number (GB 11643).")
                                  % {"name": name}, field=f"{field}.id_number")
        if number and kind == Party.Kind.ORGANISATION and not credit_code_valid(number):
            raise ValidationError(gettext("%(name)s: not a valid unified social credit code "
                                          "(GB 32100).") % {"name": name},
                                  field=f"{field}.id_number")
        out.append(Party(
            role=role, kind=kind, name=name, id_number=number,
            phone=_text(f"{field}.phone", raw.get("phone"), 32, gettext("Phone"),
                        required=False),
            address=_text(f"{field}.address", raw.get("address"), 200, gettext("Address"),
                          required=False),
            vulnerable=bool(raw.get("vulnerable", False))))
    if not any(p.role == Party.Role.APPLICANT for p in out):
        raise ValidationError(gettext("Name the applicant among the parties."),
                              field="parties")
    return out


def _centre(code: str, field: str = "centre") -> Centre:
    centre = Centre.objects.filter(code=code or "", is_active=True).first()
    if centre is None:
        raise ValidationError(gettext("No active mediation centre %(code)s.") % {"code": code},
                              field=field)
    return centre


def _locate(*, lng, lat, crs: str, region_code: str | None, grid_code: str | None,
            centre: Centre):
    """(region, grid) of the dispute's place: a point, a region code, or the centre's region."""
    if lng is not None or lat is not None:
        _lng, _lat, grid, region = locate_point(lng=lng, lat=lat, crs=crs, scope=None)
        return region, grid
    region = current_region(region_code) if region_code else centre.region
    grid = None
    if grid_code:
        grid = Grid.objects.current().defer("geometry").filter(code=grid_code).first()
        if grid is None or not grid.path.startswith(region.path):
            grid = None
    return region, grid


def _number(at: dt.datetime, pk: int) -> str:
    """TJ, the local day registered, the id: TJ2026120200000012."""
    return f"TJ{timezone.localtime(at):%Y%m%d}{pk:08d}"


# ---------------------------------------------------------------- intake

def case_register(*, actor: User, source: str, centre: str, dispute_type: str, title: str,
                  description: str, parties: Sequence[Mapping], amount=None, people: int = 1,
                  visits: int = 1, threat: bool = False, vulnerable: bool = False, lng=None,
                  lat=None, crs: str = "wgs84", region: str | None = None,
                  grid: str | None = None, incident_number: str = "",
                  referred_from: MediationCase | str | None = None,
                  idempotency_key: str | None = None,
                  now: dt.datetime | None = None) -> tuple[MediationCase, bool]:
    """Take in a dispute at a centre. Returns (case, created); a retry with the
    same idempotency key returns the first case and False."""
    now = now or timezone.now()
    if not (actor.is_superuser or actor.role in REGISTER_ROLES):
        raise PermissionDenied(gettext("Your role may not register a mediation case."),
                               field="source")
    engine.check_idempotency_key(idempotency_key)
    if source not in MediationSource.values:
        raise ValidationError(gettext("Unknown source %(source)s: use one of %(choices)s.")
                              % {"source": source, "choices": ", ".join(MediationSource.values)},
                              field="source")
    held = _centre(centre)
    scope = Scope.for_user(actor)
    if not (scope.unrestricted or any(held.path.startswith(p) for p in scope.paths)):
        raise ValidationError(gettext("The mediation centre %(code)s lies outside your "
                                      "territory.") % {"code": centre}, field="centre")
    if dispute_type not in dict(wf.DISPUTE_TYPES):
        raise ValidationError(gettext("Unknown dispute type %(type)s.") % {"type": dispute_type},
                              field="dispute_type")
    title = _text("title", title, MAX_TITLE, gettext("Title"))
    description = _text("description", description, MAX_DESCRIPTION, gettext("Description"))
    party_rows = _parties(parties, timezone.localdate(now))
    money = _amount(amount)
    people = _count("people", people, gettext("People involved"))
    visits = _count("visits", visits, gettext("Visits"))
    vulnerable = bool(vulnerable) or any(p.vulnerable for p in party_rows)
    assessed = risk.assess(people=people, visits=visits, threat=bool(threat),
                           vulnerable=vulnerable, amount=money)
    incident_number = _text("incident_number", incident_number, 32, gettext("Incident"),
                            required=False)
    lower = None
    if referred_from is not None and referred_from != "":
        lower = referred_from if isinstance(referred_from, MediationCase) else (
            MEDIATION_CASE.visible(scope).filter(number=str(referred_from)).first())
        if lower is None:
            raise ValidationError(gettext("No mediation case %(id)s in your territory.")
                                  % {"id": referred_from}, field="referred_from")
    place, grid_row = _locate(lng=lng, lat=lat, crs=crs, region_code=region, grid_code=grid,
                              centre=held)
    fingerprint = engine.request_hash({
        "source": source, "centre": centre, "dispute_type": dispute_type, "title": title,
        "description": description, "parties": [_party_data(p) for p in party_rows],
        "amount": money, "people": people, "visits": visits, "threat": bool(threat),
        "vulnerable": vulnerable, "lng": lng, "lat": lat, "crs": crs, "region": region,
        "grid": grid, "incident_number": incident_number,
        "referred_from": lower.number if lower else None})
    fields = dict(
        source=source, centre=held, region=place, path=place.path, grid=grid_row,
        incident_number=incident_number, referred_from=lower, dispute_type=dispute_type,
        title=title, description=description, amount=money, people=people, visits=visits,
        threat=bool(threat), vulnerable=vulnerable, risk_level=assessed.level,
        risk_reasons=list(assessed.reasons), escalation=assessed.escalation, reporter=actor,
        created_at=now, updated_at=now)
    return engine.create_once(MEDIATION_CASE, owner=f"user:{actor.pk}", key=idempotency_key,
                              fingerprint=fingerprint,
                              create=lambda: _create(actor, fields, party_rows, now))


def _party_data(p: Party) -> dict:
    return {"role": p.role, "kind": p.kind, "name": p.name, "id_number": p.id_number,
            "phone": p.phone, "address": p.address, "vulnerable": p.vulnerable}


def _create(actor: User, fields: dict, party_rows: list[Party],
            now: dt.datetime) -> MediationCase:
    case = MediationCase(number=uuid.uuid4().hex[:32], **fields)
    stage_fields, stage = engine.next_stage(MEDIATION_CASE, case, wf.RECEIVED, now)
    for name, value in stage_fields.items():
        setattr(case, name, value)
    case.save(force_insert=True)
    case.number = _number(now, case.pk)
    MediationCase.objects.filter(pk=case.pk).update(number=case.number)
    assert stage is not None
    stage.save(force_insert=True)
    for party in party_rows:
        party.case = case
    Party.objects.bulk_create(party_rows)
    centre = case.centre
    MediationEntry.objects.create(
        case=case, action="register", actor=actor, at=now, from_state="", to_state=wf.RECEIVED,
        data={"source": case.source, "centre": centre.code, "dispute_type": case.dispute_type,
              "region": case.region.code, "grid": case.grid.code if case.grid else None,
              "risk": {"level": case.risk_level, "reasons": case.risk_reasons,
                       "escalation": case.escalation},
              "incident": case.incident_number or None,
              "referred_from": case.referred_from.number if case.referred_from else None,
              "parties": len(party_rows)})
    hooks.created.send(MediationCase, case=case)
    told = centre_operators([centre.region_id])
    if case.escalation:  # a high risk: the centre above hears of it at once
        above = centre_above(centre)
        told += centre_operators([above.region_id]) if above else []
    engine.notify(MEDIATION_CASE, user_ids=told, case=case, what="new",
                  params={"number": case.number, "description": engine.excerpt(case.title),
                          "actor": engine.actor_name(actor)},
                  now=now, exclude=actor.pk)
    return case


def case_from_incident(*, actor: User, incident: Mapping, centre: str, dispute_type: str,
                       title: str = "", parties: Sequence[Mapping] | None = None,
                       incident_id: int | None = None, **more) -> tuple[MediationCase, bool]:
    """Turn an incident (given as plain data: number, description, region/path
    code, grid code, lng, lat, contact_name, contact_phone, id) into a dispute,
    linked to it both ways (``cases.CaseLink``)."""
    number = str(incident.get("number") or "")
    if not number:
        raise ValidationError(gettext("The incident's number is missing."), field="incident")
    description = str(incident.get("description") or "")
    if parties is None:
        name = str(incident.get("contact_name") or "").strip()
        if not name:
            raise ValidationError(gettext("Name at least one party."), field="parties")
        parties = [{"role": "applicant", "name": name,
                    "phone": str(incident.get("contact_phone") or "")}]
    place = {"lng": incident.get("lng"), "lat": incident.get("lat")} \
        if incident.get("lng") is not None else {"region": incident.get("region"),
                                                 "grid": incident.get("grid")}
    case, created = case_register(
        actor=actor, source=MediationSource.INCIDENT, centre=centre, dispute_type=dispute_type,
        title=title or description[:MAX_TITLE], description=description, parties=parties,
        incident_number=number, **place, **more)
    kind = case_types().get("incident")
    pk = incident_id if incident_id is not None else incident.get("id")
    if created and kind is not None and pk is not None:
        engine.link(source_kind=kind, source=SimpleNamespace(pk=pk, number=number),
                    target_kind=MEDIATION_CASE, target=case, actor=actor)
    return case, created


# ---------------------------------------------------------------- actions

def case_for_actor(*, actor: User, case_id: int | str) -> MediationCase:
    return engine.case_for_actor(MEDIATION_CASE, actor=actor, key=case_id)


def available_actions(*, actor: User, case: MediationCase) -> list[str]:
    return engine.available_actions(MEDIATION_CASE, actor=actor, case=case)


def _apply(**kw) -> MediationCase:
    return engine.apply(MEDIATION_CASE, **kw)


def _now(kw: Mapping) -> dt.datetime:
    return kw.get("now") or timezone.now()


def _mediator_of(centre: Centre, username: str) -> User | None:
    user = User.objects.filter(username=username, role=Role.MEDIATOR, is_active=True).first()
    if user is None:
        return None
    scope = Scope.for_user(user)
    if any(centre.path.startswith(p) or p.startswith(centre.path) for p in scope.paths):
        return user
    return None


def _stationed(centre: Centre, code: str, today: dt.date) -> Department | None:
    entry = (RosterEntry.objects.select_related("department")
             .filter(centre=centre, department__code=code)
             .exclude(ends_on__lt=today).first())
    return entry.department if entry else None


def case_assign(*, actor: User, case: MediationCase, assignee: str, note: str = "",
                **kw) -> MediationCase:
    """Give the dispute to a mediator (username) or a department stationed at
    the centre (code)."""
    engine.check_role(MEDIATION_CASE, actor, "assign")
    mediator = _mediator_of(case.centre, assignee) if assignee else None
    department = None if mediator else (
        _stationed(case.centre, assignee, timezone.localdate(_now(kw))) if assignee else None)
    if mediator is None and department is None:
        raise ValidationError(gettext("%(who)s is neither a mediator of %(centre)s nor a "
                                      "department stationed there.")
                              % {"who": assignee, "centre": case.centre.name}, field="assignee")
    ids = [mediator.pk] if mediator else MEDIATION_CASE.assignees(
        SimpleNamespace(mediator_id=None, department_id=department.pk))
    return _apply(actor=actor, case=case, action="assign",
                  payload={"assignee": assignee, "note": note},
                  changes={"mediator": mediator, "department": department},
                  notify_ids=ids, notice={"description": engine.excerpt(case.title)}, **kw)


def _same_city(a: Centre, b: Centre) -> bool:
    def city(centre: Centre):
        chain = get_index().chain(centre.region_id)
        return next((n.id for n in chain if n.level == Level.CITY),
                    centre.path.strip("/").split("/")[0])
    return city(a) == city(b)


def _move(*, actor, case, action: str, to: Centre, reason: str, **kw) -> MediationCase:
    return _apply(actor=actor, case=case, action=action, payload={"centre": to, "reason": reason},
                  data={"from": case.centre.code},
                  changes={"centre": to, "mediator": None, "department": None,
                           "pending_extension": None},
                  restart_stage=True, notify_ids=centre_operators([to.region_id]),
                  notice={"centre": to.name, "reason": engine.excerpt(reason)}, **kw)


def case_transfer(*, actor: User, case: MediationCase, centre: str, reason: str,
                  **kw) -> MediationCase:
    """Hand the dispute to another active centre of the same city."""
    engine.check_role(MEDIATION_CASE, actor, "transfer")
    to = _centre(centre)
    if to.pk == case.centre_id or not _same_city(to, case.centre):
        raise ValidationError(gettext("%(code)s is not another mediation centre of this city.")
                              % {"code": centre}, field="centre")
    return _move(actor=actor, case=case, action="transfer", to=to, reason=reason, **kw)


def case_refer_up(*, actor: User, case: MediationCase, reason: str, **kw) -> MediationCase:
    """Refer the dispute to the centre of the region above (提级): the same case moves."""
    above = centre_above(case.centre)
    if above is None:  # the guard refuses it with its reason
        return _apply(actor=actor, case=case, action="refer_up", payload={"reason": reason},
                      **kw)
    return _move(actor=actor, case=case, action="refer_up", to=above, reason=reason, **kw)


def case_record_session(*, actor: User, case: MediationCase, note: str,
                        held_at: dt.datetime | None = None, place: str = "",
                        participants: str = "", **kw) -> MediationCase:
    """A mediation session (调解会): when, where, who took part, what was said."""
    engine.check_role(MEDIATION_CASE, actor, "record_session")
    now = _now(kw)
    held_at = held_at or now
    if timezone.is_naive(held_at):
        raise ValidationError(gettext("The time of the session needs a time zone offset."),
                              field="held_at")
    if held_at > now + CLOCK_SKEW:
        raise ValidationError(gettext("The time of the session lies in the future."),
                              field="held_at")
    place = _text("place", place, 100, gettext("Place"))
    participants = _text("participants", participants, 300, gettext("Participants"))
    with transaction.atomic():
        case = _apply(actor=actor, case=case, action="record_session",
                      payload={"note": note, "held_at": held_at, "place": place,
                               "participants": participants}, **kw)
        entry = (MediationEntry.objects.filter(case=case, action="record_session")
                 .order_by("-id").first())
        Session.objects.create(case=case, held_at=held_at, place=place,
                               participants=participants, notes=note, recorded_by=actor,
                               entry=entry)
    return case


def case_agree(*, actor: User, case: MediationCase, terms: Sequence[str],
               outcome: str = Outcome.AGREEMENT, performance: str = "",
               judicial_confirmation: bool = False, note: str = "", **kw) -> MediationCase:
    """Record the agreement (调解协议): its clauses, full or partial."""
    engine.check_role(MEDIATION_CASE, actor, "agree")
    if not isinstance(terms, list | tuple) or not terms:
        raise ValidationError(gettext("Give at least one term of the agreement."), field="terms")
    if len(terms) > MAX_TERMS:
        raise ValidationError(gettext("At most %(n)d terms.") % {"n": MAX_TERMS}, field="terms")
    clauses = [_text(f"terms[{i}]", t, MAX_TERM, gettext("Term")) for i, t in enumerate(terms)]
    if outcome not in (Outcome.AGREEMENT, Outcome.PARTIAL):
        raise ValidationError(gettext("The outcome is agreement or partial."), field="outcome")
    performance = _text("performance", performance, MAX_NOTE, gettext("Performance"),
                        required=False)
    return _apply(actor=actor, case=case, action="agree",
                  payload={"terms": clauses, "outcome": outcome, "note": note,
                           "judicial_confirmation": bool(judicial_confirmation)},
                  changes={"terms": clauses, "outcome": outcome, "performance": performance,
                           "judicial_confirmation": bool(judicial_confirmation),
                           "agreed_at": _now(kw), "holds": None, "route": ""},
                  notify_ids=MEDIATION_CASE.overseers(case), notice={}, **kw)


def case_refer_out(*, actor: User, case: MediationCase, route: str, reason: str,
                   **kw) -> MediationCase:
    """Mediation failed: refer to arbitration, litigation or petition."""
    engine.check_role(MEDIATION_CASE, actor, "refer_out")
    if route and route not in wf.ROUTES:
        raise ValidationError(gettext("The route is one of %(choices)s.")
                              % {"choices": ", ".join(wf.ROUTES)}, field="route")
    return _apply(actor=actor, case=case, action="refer_out",
                  payload={"route": route, "reason": reason},
                  changes={"route": route, "outcome": Outcome.FAILED, "closed_at": _now(kw)},
                  notify_ids=MEDIATION_CASE.overseers(case), notice={"route": route}, **kw)


def case_follow_up(*, actor: User, case: MediationCase, note: str, holds: bool | None,
                   photos=(), **kw) -> MediationCase:
    """A follow-up visit (回访): does the agreement hold? (``False`` is an answer.)"""
    engine.check_role(MEDIATION_CASE, actor, "follow_up")
    if holds is not None and not isinstance(holds, bool):
        raise ValidationError(gettext("holds is true or false."), field="holds")
    checked = engine.check_photos(photos)
    told = [] if holds else MEDIATION_CASE.assignees(case) + MEDIATION_CASE.overseers(case)
    return _apply(actor=actor, case=case, action="follow_up",
                  payload={"note": note, "holds": holds}, changes={"holds": holds},
                  photos=checked, notify_ids=told,
                  notice=None if holds else {"note": engine.excerpt(note)}, **kw)


def case_close(*, actor: User, case: MediationCase, note: str, **kw) -> MediationCase:
    return _apply(actor=actor, case=case, action="close", payload={"note": note},
                  changes={"closed_at": _now(kw)}, **kw)


def case_reopen(*, actor: User, case: MediationCase, reason: str, **kw) -> MediationCase:
    """The agreement did not hold: back to mediation (its terms kept for the record)."""
    return _apply(actor=actor, case=case, action="reopen", payload={"reason": reason},
                  changes={"closed_at": None, "outcome": "", "agreed_at": None, "holds": None},
                  notify_ids=MEDIATION_CASE.assignees(case) + MEDIATION_CASE.overseers(case),
                  notice={"reason": engine.excerpt(reason)}, **kw)


def case_withdraw(*, actor: User, case: MediationCase, reason: str, **kw) -> MediationCase:
    return _apply(actor=actor, case=case, action="withdraw", payload={"reason": reason},
                  changes={"closed_at": _now(kw), "pending_extension": None}, **kw)


def case_supervise(*, actor: User | None, case: MediationCase, note: str,
                   level: str = "yellow", **kw) -> MediationCase:
    return engine.supervise(MEDIATION_CASE, actor=actor, case=case, note=note, level=level,
                            **kw)


def case_request_extension(*, actor: User, case: MediationCase, reason: str, amount: float,
                           unit: str = "working_days", **kw) -> MediationCase:
    return engine.request_extension(MEDIATION_CASE, actor=actor, case=case, reason=reason,
                                    amount=amount, unit=unit, **kw)


def case_approve_extension(*, actor: User, case: MediationCase, note: str = "",
                           **kw) -> MediationCase:
    return engine.approve_extension(MEDIATION_CASE, actor=actor, case=case, note=note, **kw)


def case_refuse_extension(*, actor: User, case: MediationCase, reason: str,
                          **kw) -> MediationCase:
    return engine.refuse_extension(MEDIATION_CASE, actor=actor, case=case, reason=reason, **kw)


ACTIONS = {
    "assign": case_assign,
    "transfer": case_transfer,
    "refer_up": case_refer_up,
    "record_session": case_record_session,
    "agree": case_agree,
    "refer_out": case_refer_out,
    "follow_up": case_follow_up,
    "close": case_close,
    "reopen": case_reopen,
    "withdraw": case_withdraw,
    "request_extension": case_request_extension,
    "approve_extension": case_approve_extension,
    "refuse_extension": case_refuse_extension,
    "supervise": case_supervise,
}


# ---------------------------------------------------------------- the agreement

def masked_numbers(party: Party) -> tuple[str, str]:
    """A party's identity number and phone as shown to anyone: a person's
    number masked (an organisation's credit code is public), the phone masked."""
    number = party.id_number
    return (mask_id_number(number) if party.kind == Party.Kind.PERSON else number,
            mask_phone(party.phone))


def agreement_pdf(case: MediationCase) -> bytes:
    """The agreement (人民调解协议书) as a PDF, identity and phone numbers masked;
    409 while the dispute has no agreement."""
    if not case.terms or case.outcome not in (Outcome.AGREEMENT, Outcome.PARTIAL) \
            or case.agreed_at is None:
        raise Conflict(gettext("Mediation case %(number)s has no agreement yet.")
                       % {"number": case.number}, code="no_agreement",
                       details={"state": case.state, "version": case.version})
    parties = [PartyLine(PARTY_WORDS[p.role], p.name, p.kind, *masked_numbers(p), p.address)
               for p in case.parties.all()]
    session = case.sessions.order_by("-held_at", "-id").first()
    mediators = [str(case.mediator)] if case.mediator_id else (
        [case.department.name] if case.department_id else [])
    with translation.override("zh-hans"):
        dispute = str(dict(wf.DISPUTE_TYPES)[case.dispute_type])
    return render_agreement(AgreementDoc(
        number=case.number, centre=case.centre.name, parties=parties, dispute_type=dispute,
        facts=case.description, terms=list(case.terms), performance=case.performance,
        signed_on=timezone.localdate(case.agreed_at), place=session.place if session else "",
        mediators=mediators, outcome=case.outcome,
        judicial_confirmation=case.judicial_confirmation))

