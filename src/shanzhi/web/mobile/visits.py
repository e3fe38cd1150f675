"""网格通's follow-up visits (走访/随访/检查): the tasks in the worker's day and
the phone page that records one. The page only reads (``registry.visits``)
and presents; the record form is a ``data-outbox`` form posting to
``POST /api/v1/registry/visits/{number}/record`` (the case type's action
through the engine), so no rule is written twice. People are shown as the
registry shows them to a grid worker: the name, the identity number and the
phone masked."""

from __future__ import annotations

import datetime as dt

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from shanzhi.accounts.models import User
from shanzhi.cases.lights import light, light_q
from shanzhi.core.privacy import mask_id_number, mask_phone
from shanzhi.registry import visits
from shanzhi.registry import workflow as vwf
from shanzhi.registry.case import VISIT_CASE
from shanzhi.registry.models import Finding, Visit, VisitKind

from ..pages import domain_errors
from . import render_mobile

#: How many of the worker's follow-ups "my day" lists, and earlier visits a page shows.
TASKS = 50
EARLIER = 5


def address_of(visit: Visit) -> str:
    if visit.place_id:
        return visit.place.address
    person = visit.person
    if person is None:
        return ""
    return person.house.address if person.house_id else person.registered_address


def visit_tasks(user: User, now: dt.datetime) -> tuple[list[dict], dict]:
    """The worker's open follow-ups as tasks of the day (by deadline, with
    their lights), and the counts: how many, how many red."""
    qs = visits.visits_due_for(user, now)
    kinds = dict(VisitKind.choices)
    tasks = [{"kind": "visit", "kind_label": kinds.get(v.kind, v.kind), "number": v.number,
              "title": visits.describe(v), "sub": address_of(v),
              "place": address_of(v) or v.grid.name, "due_at": v.due_at,
              "light": light(v, vwf.OPEN_STATES, now) or "none",
              "url": reverse("web:m_visit", args=[v.number])} for v in qs[:TASKS]]
    red = qs.filter(light_q("red", vwf.OPEN_STATES, now)).count()
    return tasks, {"visits": qs.count(), "visits_overdue": red}


def _earlier(visit: Visit) -> list[Visit]:
    """The visits done before on the same member, permit holder or place."""
    done = Visit.objects.filter(state=vwf.DONE).exclude(pk=visit.pk)
    if visit.member_id:
        done = done.filter(member_id=visit.member_id)
    elif visit.place_id:
        done = done.filter(place_id=visit.place_id)
    else:
        done = done.filter(person_id=visit.person_id, kind=visit.kind)
    return list(done.order_by("-visited_at", "-id")[:EARLIER])


@login_required
@domain_errors
def visit(request: HttpRequest, number: str) -> HttpResponse:
    """One follow-up on the phone: who or what, where, by when, the earlier
    visits, and the record form when the user may record it now."""
    found = visits.visit_for_actor(actor=request.user, key=number)
    if found.number != number:  # asked by id: the address names the number
        return redirect("web:m_visit", number=found.number)
    now = timezone.now()
    person = found.person
    actions = visits.available_actions(actor=request.user, case=found)
    return render_mobile(
        request, "web/m/visit.html", visit=found, now=now,
        light=light(found, vwf.OPEN_STATES, now),
        title=visits.describe(found), address=address_of(found),
        id_number=mask_id_number(person.id_number) if person else "",
        phone=mask_phone(person.phone) if person else "",
        contact_phone=mask_phone(found.place.contact_phone) if found.place_id else "",
        member=found.member, earlier=_earlier(found),
        can_record="record" in actions,
        record_url=f"/api/v1/{VISIT_CASE.api_prefix}/{found.number}/record",
        findings=Finding.choices, permit=found.kind == vwf.PERMIT,
        position_messages={"locating": _("Finding your position…"),
                           "noGeo": _("This phone gives no position."),
                           "accuracy": _("± %(m)s m")})
