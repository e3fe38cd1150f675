"""Intake assistance (智能受理): what the operator sees while a report is
being typed — the city's model's most likely categories with their
confidence and its honest figures, the place an address resolves to, the
open incidents it may duplicate and the caller's earlier reports — answered
in one JSON-ready dict for the intake form, the phone, the API and Open311.

It only reads: nothing here is written. What the report keeps of it (the
suggestion on the incident and its timeline, the repeat flag, the placed
address) is ``services.incident_report``'s. docs/intake.md, "At intake".
"""

from __future__ import annotations

import datetime as dt
import logging

from django.utils import timezone
from django.utils.translation import gettext

from shanzhi.accounts.models import User
from shanzhi.accounts.scope import Scope, point_check_territory
from shanzhi.cases.engine import check_length
from shanzhi.core.errors import PermissionDenied, ValidationError
from shanzhi.geo.crs import check_lng_lat
from shanzhi.geo.index import get_index
from shanzhi.intake import places, textclass

from . import duplicates
from .models import Category, Incident, State
from .rulebook import rule_book

log = logging.getLogger(__name__)

#: How many categories the operator is offered.
TOP = 3
#: As long as a report's description may be (``services.MAX_DESCRIPTION``).
MAX_DESCRIPTION = 4000


def category_suggestions(text: str, *, k: int = TOP) -> list[tuple[Category, float]]:
    """The city's model's ``k`` most likely subclasses for ``text``, best
    first, as (active category, confidence); labels that are no longer an
    active subclass are left out. [] without a model, for blank text — and
    when the model fails: a report is never refused because its assistant
    broke (the failure is logged)."""
    if not (text or "").strip():
        return []
    try:
        found = textclass.suggest(text, k=k)
    except Exception:  # intake goes on without suggestions
        log.exception("the category suggestion failed")
        return []
    categories = rule_book().categories
    out = []
    for suggestion in found:
        cat, rules = categories.get(suggestion.label, (None, None))
        if cat is not None and rules is not None:
            out.append((cat, round(float(suggestion.confidence), 4)))
    return out


def model_summary() -> dict | None:
    """The current incident model's honest figures: version, when and on how
    many rows it was trained, its cross-validated accuracy and macro-F1."""
    try:
        info = textclass.model_info()
    except Exception:  # as for the suggestions
        log.exception("reading the category model's report failed")
        return None
    if not info:
        return None
    return {"version": info.get("version"), "trained_at": info.get("trained_at"),
            "rows": info.get("rows"), "accuracy": info.get("accuracy"),
            "macro_f1": info.get("macro_f1")}


def model_label(info: dict | None) -> str:
    """How the timeline names the model that made a suggestion: "incidents v3"."""
    if not info:
        return textclass.DEFAULT_MODEL
    return f"{textclass.DEFAULT_MODEL} v{info.get('version')}"


def _class_name(cat: Category) -> str:
    parent = rule_book().by_id.get(cat.parent_id) if cat.parent_id else None
    return parent.name if parent else ""


def place_out(place: places.Place | None, *, scope: Scope | None) -> dict | None:
    """The resolved place as the form shows it; ``confident`` only when the
    point may be used for a report by this actor (inside their territory)."""
    if place is None:
        return None
    index = get_index()
    grid = index.grid(place.grid_id) if place.grid_id else None
    region = index.region(place.region_id) if place.region_id else None
    usable = place.confident and place_usable(place, scope=scope)
    return {"label": place.label, "kind": place.kind, "lng": place.lng, "lat": place.lat,
            "grid": {"code": grid.code, "name": grid.name} if grid else None,
            "region": {"code": region.code, "name": region.name} if region else None,
            "confidence": round(float(place.confidence), 3), "confident": usable}


def place_usable(place: places.Place, *, scope: Scope | None) -> bool:
    """Whether the place's point lies where the scope's user may report."""
    if place.lng is None or place.lat is None:
        return False
    try:
        point_check_territory(location=get_index().locate(place.lng, place.lat), scope=scope)
    except ValidationError:
        return False
    return True


def duplicate_out(found: duplicates.Duplicate) -> dict:
    incident = found.incident
    cat = incident.category
    return {"number": incident.number, "category": cat.code if cat else None,
            "category_name": cat.name if cat else "", "description": incident.description,
            "state": incident.state, "state_label": str(State(incident.state).label),
            "reported_at": incident.reported_at.isoformat(),
            "distance_m": round(float(found.distance_m), 1),
            "similarity": round(float(found.similarity), 3)}


def repeat_out(incident: Incident) -> dict:
    return {"number": incident.number, "reported_at": incident.reported_at.isoformat(),
            "state": incident.state, "state_label": str(State(incident.state).label),
            "description": incident.description}


def assist(*, actor: User, description: str, category: str | None = None, lng=None,
           lat=None, address: str = "", region: str | None = None, contact_phone: str = "",
           now: dt.datetime | None = None, exclude: int | None = None) -> dict:
    """What the intake form shows beside a report being typed, scoped to
    ``actor``. Duplicates are looked for in ``category`` (a subclass code)
    when chosen, else in the top suggestion; at the given point (WGS-84),
    else at the address's place when it is confidently placed in the actor's
    territory. ``exclude`` leaves out an incident (the one being edited).
    ``region`` is what the form holds beside the address; it is checked, not
    otherwise used (the resolver reads a district named in the address)."""
    from .services import CHANNEL_ROLES  # the roles that report (services imports this module)

    if not (actor.is_superuser or any(actor.role in roles for roles in CHANNEL_ROLES.values())):
        raise PermissionDenied(gettext("Your role does not report incidents."), field="actor")
    now = now or timezone.now()
    scope = Scope.for_user(actor)
    description = (description or "").strip()
    check_length("description", description, MAX_DESCRIPTION, gettext("Description"))
    chosen = None
    if category:
        chosen, rules = rule_book().categories.get(category, (None, None))
        if chosen is None or rules is None:
            raise ValidationError(gettext("Unknown category %(code)s.") % {"code": category},
                                  field="category")
    if (lng is None) != (lat is None):
        raise ValidationError(gettext("Give both lng and lat."),
                              field="lat" if lat is None else "lng")
    if lng is not None:
        lng, lat = check_lng_lat(lng, lat)
    if region and not scope.regions().filter(code=region).exists():
        raise ValidationError(gettext("The region %(code)s lies outside your territory.")
                              % {"code": region}, field="region")
    suggested = category_suggestions(description)
    place = places.resolve(address.strip(), scope=scope) if address.strip() else None
    shown_place = place_out(place, scope=scope)
    if lng is None and shown_place and shown_place["confident"]:
        lng, lat = place.lng, place.lat
    code = chosen.code if chosen else (suggested[0][0].code if suggested else None)
    found = duplicates.possible_duplicates(
        category=code, lng=lng, lat=lat, text=description, now=now, scope=scope,
        exclude=exclude) if code and lng is not None and description else []
    earlier = duplicates.repeats(phone=contact_phone, now=now, scope=scope,
                                 exclude=exclude) if contact_phone.strip() else []
    return {
        "suggestions": [{"code": cat.code, "name": cat.name, "class_name": _class_name(cat),
                         "confidence": confidence} for cat, confidence in suggested],
        "model": model_summary(),
        "place": shown_place,
        "duplicates": [duplicate_out(d) for d in found],
        "repeats": [repeat_out(i) for i in earlier],
    }
