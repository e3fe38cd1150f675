"""The desks' filters: one form read from the address (so a filtered list can
be shared and the back button works), the scoped list it selects, its sort
order, and the choices the form offers inside the user's territory.

The territory is never decided here: every list starts from
``incidents.selectors.incidents_list`` (the actor's ``Scope``), and the
filters only narrow it."""

from __future__ import annotations

import datetime as dt
from functools import reduce
from operator import or_
from urllib.parse import urlencode

from django import forms
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from shanzhi.accounts.models import Department
from shanzhi.accounts.scope import Scope
from shanzhi.core.calendar import YEARS
from shanzhi.core.errors import NotFound, ValidationError
from shanzhi.geo.index import get_index
from shanzhi.geo.models import Level
from shanzhi.incidents import selectors
from shanzhi.incidents import workflow as wf
from shanzhi.incidents.models import Channel, Incident, State

PAGE_SIZE = 50
#: The open states, as one filter value ("办理中").
OPEN = ",".join(s for s in wf.STATES if s in wf.OPEN_STATES)
#: Every state, as one filter value: where an empty state would mean a default.
ALL_STATES = ",".join(wf.STATES)
SORTS, DEFAULT_SORT = selectors.SORTS, selectors.DEFAULT_SORT
#: Filters carried in the address, in the order they are written there.
FILTERS = ("q", "state", "light", "category", "channel", "region", "department",
           "reported_from", "reported_to")
#: Below this many towns and districts in a territory, its communities are offered too.
FEW_REGIONS = 20
LIGHTS = (("green", _("Green: on time")), ("yellow", _("Yellow: nearly due")),
          ("red", _("Red: overdue")))


def sort_choices() -> list[tuple[str, str]]:
    return [(f"{sign}{name}", f"{sign}{name}") for name in SORTS for sign in ("", "-")]


class DeskFilters(forms.Form):
    """What a desk list may be narrowed by. Every field may stay empty."""

    q = forms.CharField(label=_("Search"), required=False, max_length=100)
    state = forms.CharField(label=_("State"), required=False)
    light = forms.ChoiceField(label=_("Light"), required=False,
                              choices=[("", _("Any light")), *LIGHTS])
    category = forms.CharField(label=_("Category"), required=False, max_length=32)
    channel = forms.ChoiceField(label=_("Channel"), required=False,
                                choices=[("", _("Any channel")), *Channel.choices])
    region = forms.CharField(label=_("Region"), required=False, max_length=32)
    department = forms.CharField(label=_("Department"), required=False, max_length=32)
    reported_from = forms.DateField(label=_("Reported from"), required=False)
    reported_to = forms.DateField(label=_("Reported to"), required=False)
    sort = forms.ChoiceField(required=False, choices=sort_choices)

    def clean_state(self) -> str:
        value = self.cleaned_data["state"].strip()
        unknown = [s for s in value.split(",") if s and s not in State.values]
        if unknown:
            raise forms.ValidationError(_("Unknown state: %(state)s") % {"state": unknown[0]})
        return value

    def clean(self):
        data = super().clean()
        for name in ("reported_from", "reported_to"):
            day = data.get(name)
            if day and day.year not in YEARS:
                self.add_error(name, _("Choose a date in the years %(first)d–%(last)d.")
                               % {"first": YEARS[0], "last": YEARS[-1]})
        start, end = data.get("reported_from"), data.get("reported_to")
        if start and end and end < start:
            self.add_error("reported_to", _("The end date is before the start date."))
        return data

    def value(self, name: str) -> str:
        """The cleaned value of a field that passed, else empty."""
        if not self.is_valid() and name in self.errors:
            return ""
        value = self.cleaned_data.get(name)
        return "" if value in (None, "") else str(value)

    def query(self, *, without: tuple[str, ...] = (), **changes) -> str:
        """The address's query string for these filters (valid ones only),
        without some and with changes: ``query(sort="due_at")``."""
        pairs = {name: self.value(name) for name in (*FILTERS, "sort") if name not in without}
        pairs.update(changes)
        if pairs.get("sort") == DEFAULT_SORT:
            del pairs["sort"]
        return urlencode([(k, v) for k, v in pairs.items() if v not in ("", None)])

    @property
    def ordering(self) -> str:
        return self.value("sort") or DEFAULT_SORT


def filtered_incidents(scope: Scope, form: DeskFilters,
                       now: dt.datetime | None = None) -> QuerySet[Incident]:
    """The incidents of the territory that pass the form's filters, sorted.
    A region outside the territory is an error on the form and selects nothing."""
    form.is_valid()
    now = now or timezone.now()
    dates = {name: form.cleaned_data.get(name) for name in ("reported_from", "reported_to")
             if name not in form.errors}
    try:
        return selectors.incidents_list(
            scope=scope, state=form.value("state") or None, channel=form.value("channel") or None,
            category=form.value("category") or None, region=form.value("region") or None,
            light_filter=form.value("light") or None, q=form.value("q") or None,
            department=form.value("department") or None, sort=form.ordering, now=now, **dates)
    except NotFound:
        form.add_error("region", _("No region with this code in your territory."))
        return Incident.objects.none()
    except ValidationError as exc:
        form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        return Incident.objects.none()


# ---------------------------------------------------------------- choices

def region_choices(scope: Scope) -> list[tuple[str, str]]:
    """(code, name indented by its depth) of the territory's regions in tree
    order: towns and above, and communities too when there are few of those.
    Names repeat across districts: when the territory spans several, a town's
    or a community's name carries its district ("官渎里社区（姑苏区）"), read
    from the spatial index's memory."""
    regions = scope.regions().defer("geometry").order_by("path")
    upper = list(regions.exclude(level=Level.COMMUNITY))
    if len(upper) < FEW_REGIONS:
        upper = list(regions)
    top = min((r.path.count("/") for r in upper), default=0)
    index = get_index()

    def district(region) -> str:
        return next((n.name for n in index.place(region.pk)
                     if n.level == Level.DISTRICT and n.id != region.pk), "")

    def label(region) -> str:
        name = district(region) if several else ""
        return (_("%(name)s (%(district)s)") % {"name": region.name, "district": name}
                if name else region.name)

    several = sum(r.level in (Level.CITY, Level.DISTRICT) for r in upper) > 1
    return [(r.code, "\u3000" * (r.path.count("/") - top) + label(r)) for r in upper]


def department_choices(scope: Scope) -> list[Department]:
    """Departments an incident of the territory may be sent to: those of its
    regions and of the regions above it."""
    qs = Department.objects.select_related("region").defer("region__geometry")
    if not scope.unrestricted:
        if not scope.paths:
            return []
        above = {int(p) for path in scope.paths for p in path.strip("/").split("/") if p}
        inside = reduce(or_, (Q(region__path__startswith=p) for p in scope.paths))
        qs = qs.filter(inside | Q(region_id__in=above))
    return list(qs.order_by("region__path", "code"))


def region_name(scope: Scope, code: str) -> str:
    """The name of a region chosen in the address (it may lie below the
    choices); a code outside the territory stays a code."""
    try:
        return scope.region(code).name
    except NotFound:
        return code
