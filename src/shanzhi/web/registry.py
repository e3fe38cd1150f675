"""基础数据, the grid's base data at the desk: people (search, filters,
masked numbers, a person's page with its history, the reveal, the edit with
its version, the merge), houses, organisations, special-group members, key
places, the follow-up tasks and their case page, a grid's houses and people
on the map, and the import with its progress and its errors by line and
column.

The pages only parse and present: ``registry.selectors`` decides who sees
what (the one place territory is decided), ``registry.services`` every
write, ``registry.imports`` the files, ``registry.visits`` the follow-ups —
exactly as for the API. Identity numbers and phones are masked on every page;
the full ones of one person are shown once, on a POST, to a role allowed to
see them, and that view is written to the access log (by ``reveal_person``).
"""

from __future__ import annotations

import datetime as dt
import logging
import tempfile
import threading
from pathlib import Path
from urllib.parse import urlencode

import shapely
from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.db import close_old_connections, connection
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    JsonResponse,
    StreamingHttpResponse,
)
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from shanzhi.accounts.models import Role, User
from shanzhi.accounts.scope import Scope
from shanzhi.accounts.staff import grid_workers
from shanzhi.cases import engine
from shanzhi.cases import selectors as case_selectors
from shanzhi.cases.lights import light as case_light
from shanzhi.core.errors import Conflict, DomainError, NotFound, PermissionDenied
from shanzhi.core.privacy import mask_phone
from shanzhi.registry import imports, selectors, services, visits
from shanzhi.registry import workflow as wf
from shanzhi.registry.case import VISIT_CASE
from shanzhi.registry.models import (
    Building,
    Finding,
    Gender,
    Group,
    House,
    IdType,
    ImportJob,
    KeyPlace,
    LeftBehind,
    Member,
    Organisation,
    OrganisationKind,
    Person,
    PersonKind,
    PlaceKind,
    RiskLevel,
    Visit,
    VisitKind,
    VisitState,
)

from . import case as case_page
from .actions import LEVELS, UNITS
from .export import server_stream
from .pages import domain_errors, is_htmx, render_page

logger = logging.getLogger(__name__)

PAGE_SIZE = 50
#: The registries the import page and the export buttons offer.
REGISTRIES = {
    "people": gettext_lazy("People"), "houses": gettext_lazy("Houses"),
    "organisations": gettext_lazy("Organisations"),
    "members": gettext_lazy("Special groups"), "places": gettext_lazy("Key places"),
}
TEMPLATE_FORMATS = {"xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                    "csv": "text/csv; charset=utf-8"}
XLSX = TEMPLATE_FORMATS["xlsx"]
#: The sections of the base data, in the order of the sub-menu.
SECTIONS = (
    ("people", "web:registry", gettext_lazy("People")),
    ("houses", "web:registry_houses", gettext_lazy("Houses")),
    ("organisations", "web:registry_organisations", gettext_lazy("Organisations")),
    ("members", "web:registry_members", gettext_lazy("Special groups")),
    ("places", "web:registry_places", gettext_lazy("Key places")),
    ("visits", "web:registry_visits", gettext_lazy("Follow-ups")),
    ("imports", "web:registry_imports", gettext_lazy("Import")),
)
#: How many buildings and people the grid's page lists beside its map.
GRID_BUILDINGS = 300
GRID_PEOPLE = 200
LIGHT_LABELS = {"green": gettext_lazy("Green: on time"),
                "yellow": gettext_lazy("Yellow: nearly due"),
                "red": gettext_lazy("Red: overdue")}
#: Person fields shown masked everywhere (the history too) unless revealed.
SECRET_FIELDS = ("id_number", "phone", "permit_number")


def may_write(user: User) -> bool:
    return user.is_superuser or user.role in selectors.WRITE_ROLES


def is_ops(user: User) -> bool:
    return user.is_superuser or user.role in selectors.OPS_ROLES


def may_reveal(user: User) -> bool:
    return selectors.may_reveal(user)


def _require_writer(user: User) -> None:
    if not may_write(user):
        raise DjangoPermissionDenied(_("Your role may read the base data but not change it."))


def _require_ops(user: User) -> None:
    if not is_ops(user):
        raise DjangoPermissionDenied(_("Only the city administration and the linkage centres "
                                       "import, export and merge the base data."))


def _page(request: HttpRequest, section: str, template: str, **context) -> HttpResponse:
    """A page of the base data: the sub-menu with ``section`` marked."""
    tabs = [{"name": name, "url": reverse(url), "label": label, "active": name == section}
            for name, url, label in SECTIONS if name != "imports" or is_ops(request.user)]
    return render_page(request, template, tabs=tabs, section=section,
                       may_write=may_write(request.user), is_ops=is_ops(request.user),
                       **context)


def _slice(qs, request: HttpRequest) -> dict:
    """One page of a list without counting it (a city holds millions of
    people): the rows, and whether there is a page before and after."""
    try:
        number = max(1, int(request.GET.get("page") or 1))
    except ValueError:
        number = 1
    start = (number - 1) * PAGE_SIZE
    rows = list(qs[start:start + PAGE_SIZE + 1])
    return {"rows": rows[:PAGE_SIZE], "number": number, "has_next": len(rows) > PAGE_SIZE,
            "has_previous": number > 1}


def _query(form: forms.Form, names) -> str:
    """The valid filters as the address carries them (no empty ones)."""
    if not form.is_bound:
        return ""
    data = getattr(form, "cleaned_data", {})
    return urlencode([(name, form.data.get(name)) for name in names
                      if form.data.get(name) and name not in form.errors
                      and data.get(name) not in (None, "", False)])


def _form_error(form: forms.Form, exc: DomainError) -> None:
    """A refusal of a service, shown next to the field(s) it names."""
    problems = (exc.details or {}).get("problems") if isinstance(exc.details, dict) else None
    for problem in problems or [{"field": exc.field, "message": exc.message}]:
        field = (problem.get("field") or "").split("[")[0].split(".")[0]
        form.add_error(field if field in form.fields else None, problem.get("message", ""))


def _masked(person: Person) -> dict:
    return {name: selectors.masked(name, getattr(person, name)) for name in SECRET_FIELDS}


def _grid_of(scope: Scope, code: str):
    """A grid of the territory, for a role that reads the base data."""
    if not scope.unrestricted and scope.role not in selectors.READ_ROLES:
        raise Http404(_("There is no such page, or it is not within your territory."))
    try:
        return scope.grid(code)
    except NotFound as exc:
        raise Http404(exc.message) from exc


def _one(scope: Scope, model, pk: int):
    """A row of ``model`` if the actor's territory reaches it, else a 404."""
    row = selectors.visible(scope, model).filter(pk=pk).first()
    if row is None:
        raise Http404(_("There is no such page, or it is not within your territory."))
    return row


# ---------------------------------------------------------------- people

class PeopleFilters(forms.Form):
    q = forms.CharField(label=gettext_lazy("Search"), required=False, max_length=100)
    kind = forms.ChoiceField(label=gettext_lazy("Kind"), required=False,
                             choices=[("", gettext_lazy("Every kind")), *PersonKind.choices])
    grid = forms.CharField(label=gettext_lazy("Grid code"), required=False, max_length=32)
    group = forms.ChoiceField(label=gettext_lazy("Special group"), required=False,
                              choices=[("", gettext_lazy("Any group")), *Group.choices])
    left_behind = forms.ChoiceField(label=gettext_lazy("Left behind"), required=False,
                                    choices=[("", gettext_lazy("Anyone")),
                                             *LeftBehind.choices])
    permit_expiring = forms.BooleanField(label=gettext_lazy("Residence permit ending soon"),
                                         required=False)

    FILTERS = ("q", "kind", "grid", "group", "left_behind", "permit_expiring")


def _person_rows(people) -> list[dict]:
    return [{"person": p, **_masked(p)} for p in people]


@login_required
def people(request: HttpRequest) -> HttpResponse:
    """实有人口: search by name, identity number, phone or address; filters."""
    scope = Scope.for_user(request.user)
    form = PeopleFilters(request.GET, auto_id="f-%s")
    qs = Person.objects.none()
    if form.is_valid():
        data = form.cleaned_data
        try:
            qs = selectors.people_list(
                scope=scope, q=data["q"] or None, kind=data["kind"] or None,
                grid=data["grid"] or None, group=data["group"] or None,
                left_behind=data["left_behind"] or None,
                permit_expiring=wf.PERMIT_NOTICE_DAYS if data["permit_expiring"] else None)
        except DomainError as exc:
            _form_error(form, exc)
    page = _slice(qs, request)
    query = _query(form, PeopleFilters.FILTERS)
    return _page(request, "people", "web/registry/people.html", form=form, page=page,
                 rows=_person_rows(page["rows"]), query=query,
                 export_url=_export_url("people", query))


class PersonForm(forms.Form):
    """A person's facts as typed; the service checks them (one set of rules
    with the API and the import). On an edit the identity number and the
    phone start empty: typed, they replace the old ones; empty, they stay."""

    version = forms.IntegerField(widget=forms.HiddenInput, required=False)
    name = forms.CharField(label=gettext_lazy("Name"), max_length=100)
    id_type = forms.ChoiceField(label=gettext_lazy("Identity document"), choices=IdType.choices)
    id_number = forms.CharField(label=gettext_lazy("Identity number"), max_length=32,
                                required=False)
    gender = forms.ChoiceField(label=gettext_lazy("Gender"),
                               choices=[("", "—"), *Gender.choices])
    birth_date = forms.CharField(label=gettext_lazy("Date of birth"), required=False,
                                 widget=forms.DateInput(attrs={"type": "date"}))
    phone = forms.CharField(label=gettext_lazy("Phone"), max_length=32, required=False)
    kind = forms.ChoiceField(label=gettext_lazy("Kind"), choices=PersonKind.choices)
    left_behind = forms.ChoiceField(label=gettext_lazy("Left behind"), required=False,
                                    choices=[("", "—"), *LeftBehind.choices])
    grid = forms.CharField(label=gettext_lazy("Grid code"), max_length=32, required=False,
                           widget=forms.TextInput(attrs={"list": "grid-codes"}))
    house = forms.IntegerField(widget=forms.HiddenInput, required=False)
    registered_address = forms.CharField(label=gettext_lazy("Registered address"),
                                         max_length=200, required=False)
    occupation = forms.CharField(label=gettext_lazy("Occupation"), max_length=50,
                                 required=False)
    moved_in = forms.CharField(label=gettext_lazy("Moved in on"), required=False,
                               widget=forms.DateInput(attrs={"type": "date"}))
    permit_number = forms.CharField(label=gettext_lazy("Residence permit number"),
                                    max_length=32, required=False)
    permit_expires = forms.CharField(label=gettext_lazy("Permit valid until"), required=False,
                                     widget=forms.DateInput(attrs={"type": "date"}))
    note = forms.CharField(label=gettext_lazy("Note"), required=False, max_length=2000,
                           widget=forms.Textarea(attrs={"rows": 3}))

    #: Fields an edit keeps when left empty (they are never drawn filled in).
    KEEP_IF_EMPTY = SECRET_FIELDS
    #: Fields only the creation sends (the place is changed by a move, not an edit).
    CREATE_ONLY = ("grid", "house")

    def data_for_create(self) -> dict:
        return {name: value for name, value in self.cleaned_data.items()
                if name != "version" and value not in ("", None)}

    def data_for_update(self) -> dict:
        return {name: ("" if value is None else value)
                for name, value in self.cleaned_data.items()
                if name != "version" and name not in self.CREATE_ONLY
                and not (name in self.KEEP_IF_EMPTY and not value)}


def person_initial(person: Person) -> dict:
    """The edit form's first values: everything but the numbers."""
    initial = {name: getattr(person, name) for name in PersonForm.base_fields
               if hasattr(person, name) and name not in (*SECRET_FIELDS, "house", "grid")}
    for name, value in initial.items():
        if isinstance(value, dt.date):
            initial[name] = value.isoformat()
        elif value is None:
            initial[name] = ""
    return initial


def _history(person: Person) -> list[dict]:
    """The person's changes (and those of the persons merged into it), the
    numbers masked, the codes by their names."""
    fields = {f.name: f for f in Person._meta.get_fields() if hasattr(f, "verbose_name")}

    def shown(field: str, value):
        if value in (None, ""):
            return value
        if field in selectors.SECRET_FIELDS:
            return selectors.masked(field, str(value))
        # only a field's own choices: a foreign key's would read the whole table
        choices = dict(getattr(fields.get(field), "choices", None) or ())
        return choices.get(value, value) if isinstance(value, str) else value

    out = []
    for change in services.person_history(person):
        rows = []
        for field, pair in (change.changes or {}).items():
            before, after = [*pair, None, None][:2] if isinstance(pair, list) else (None, pair)
            label = fields[field].verbose_name if field in fields else field
            rows.append({"label": label, "before": shown(field, before),
                         "after": shown(field, after)})
        out.append({"change": change, "rows": rows, "other": change.person_id != person.pk})
    return out


def person_context(request: HttpRequest, person: Person, **extra) -> dict:
    user = request.user
    household = person.household
    household_members = (list(household.members.filter(merged_into__isnull=True)
                              .order_by("name", "id")) if household else [])
    memberships = list(person.memberships.select_related("worker").order_by("-since"))
    person_visits = list(VISIT_CASE.visible(Scope.for_user(user)).filter(person=person)
                         .select_related("worker")
                         .order_by("-created_at")[:20])
    now = timezone.now()
    return {
        "person": person, "masked": _masked(person), "household": household,
        "household_members": [{"person": p, **_masked(p)} for p in household_members],
        "memberships": memberships,
        "visits": [{"visit": v, "light": case_light(v, wf.OPEN_STATES, now)}
                   for v in person_visits],
        "history": _history(person),
        "may_reveal": may_reveal(user), "may_edit": may_write(user) and not person.merged_into_id,
        "may_merge": is_ops(user) and not person.merged_into_id,
        **extra,
    }


@login_required
@domain_errors
def person_detail(request: HttpRequest, pk: int) -> HttpResponse:
    scope = Scope.for_user(request.user)
    person = selectors.person_for(scope, pk)
    return _page(request, "people", "web/registry/person.html",
                 **person_context(request, person))


@login_required
@require_POST
@domain_errors
def person_reveal(request: HttpRequest, pk: int) -> HttpResponse:
    """显示完整信息: the full numbers of one person, once (the access log keeps it)."""
    scope = Scope.for_user(request.user)
    person = selectors.person_for(scope, pk)
    if not may_reveal(request.user):
        raise PermissionDenied(_("Your role may not see full identity numbers."))
    shown = selectors.reveal_person(request=request, actor=request.user, person=person)
    revealed = {name: shown.get(name, "") for name in SECRET_FIELDS}
    response = _page(request, "people", "web/registry/person.html",
                     **person_context(request, person, revealed=revealed))
    response["Cache-Control"] = "private, no-store"
    return response


@login_required
@domain_errors
def person_edit(request: HttpRequest, pk: int) -> HttpResponse:
    """The edit form; a save carrying an older version than the record's is
    refused as a conflict, the user's input kept beside the record as it is."""
    _require_writer(request.user)
    scope = Scope.for_user(request.user)
    person = selectors.person_for(scope, pk)
    if person.merged_into_id:
        raise NotFound(_("This person was merged into another one."))
    outcome = None
    if request.method == "POST":
        form = PersonForm(request.POST, auto_id="p-%s")
        if form.is_valid():
            version = form.cleaned_data.get("version") or person.version
            try:
                services.person_update(actor=request.user, person=person, version=version,
                                       data=form.data_for_update())
            except Conflict as exc:
                person = selectors.person_for(scope, pk)
                outcome = {"level": "warning", "text": _(
                    "Someone else saved this person while you were editing. Your input is "
                    "kept below; the record as it is now is on the right. Check, then save "
                    "again."), "detail": exc.message}
                data = request.POST.copy()
                data["version"] = str(person.version)  # a second save is deliberate
                form = PersonForm(data, auto_id="p-%s")
                form.is_valid()
            except DomainError as exc:
                _form_error(form, exc)
            else:
                messages.success(request, _("Saved."))
                return redirect("web:registry_person", pk=person.pk)
    else:
        form = PersonForm(initial={**person_initial(person), "version": person.version},
                          auto_id="p-%s")
    status = 409 if outcome else 400 if form.is_bound and form.errors else 200
    response = _page(request, "people", "web/registry/person_form.html", form=form,
                     person=person, masked=_masked(person), outcome=outcome, editing=True,
                     secret_fields=SECRET_FIELDS)
    response.status_code = status
    return response


@login_required
@domain_errors
def person_new(request: HttpRequest) -> HttpResponse:
    """登记人员: a new person in a grid (code) or a house of the territory."""
    _require_writer(request.user)
    scope = Scope.for_user(request.user)
    house = None
    house_id = request.POST.get("house") or request.GET.get("house")
    if house_id and str(house_id).isdigit():
        house = _one(scope, House, int(house_id))
    duplicate = None
    if request.method == "POST":
        form = PersonForm(request.POST, auto_id="p-%s")
        if form.is_valid():
            try:
                person = services.person_create(actor=request.user, data=form.data_for_create(),
                                                source="form")
            except Conflict as exc:
                # the number now names a registered person: not echoed back in full
                form = PersonForm({**request.POST.dict(), "id_number": ""}, auto_id="p-%s")
                form.is_valid()
                form.add_error("id_number", exc.message)
                details = exc.details if isinstance(exc.details, dict) else {}
                duplicate = details.get("person")
            except DomainError as exc:
                _form_error(form, exc)
            else:
                messages.success(request, _("The person was registered."))
                return redirect("web:registry_person", pk=person.pk)
    else:
        initial = {"house": house.pk} if house else {}
        form = PersonForm(initial=initial, auto_id="p-%s")
    response = _page(request, "people", "web/registry/person_form.html", form=form,
                     house=house, duplicate=duplicate, editing=False,
                     grids=list(scope.grids().order_by("code").values_list("code", "name")[:500]))
    if form.is_bound and form.errors:
        response.status_code = 409 if duplicate else 400
    return response


class MergeForm(forms.Form):
    duplicate = forms.IntegerField(label=gettext_lazy("Number of the duplicate record"),
                                   min_value=1)


@login_required
@require_POST
@domain_errors
def person_merge(request: HttpRequest, pk: int) -> HttpResponse:
    """合并: the duplicate's memberships, visits and household move to this person."""
    _require_ops(request.user)
    scope = Scope.for_user(request.user)
    keep = selectors.person_for(scope, pk)
    form = MergeForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Give the number of the duplicate record."))
        return redirect("web:registry_person", pk=keep.pk)
    try:
        duplicate = selectors.person_for(scope, form.cleaned_data["duplicate"])
        services.person_merge(actor=request.user, keep=keep, duplicate=duplicate)
    except NotFound:
        messages.error(request, _("No person with this number in your territory."))
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Merged: both histories are kept on this person."))
    return redirect("web:registry_person", pk=keep.pk)


# ---------------------------------------------------------------- houses

class PlainFilters(forms.Form):
    q = forms.CharField(label=gettext_lazy("Search"), required=False, max_length=100)
    grid = forms.CharField(label=gettext_lazy("Grid code"), required=False, max_length=32)

    FILTERS = ("q", "grid")


def _plain_list(request: HttpRequest, select, **kwargs):
    """(form, page, query) of a list read through ``select(scope=…, q=…, grid=…)``."""
    scope = Scope.for_user(request.user)
    form = PlainFilters(request.GET, auto_id="f-%s")
    qs = None
    if form.is_valid():
        try:
            qs = select(scope=scope, q=form.cleaned_data["q"] or None,
                        grid=form.cleaned_data["grid"] or None, **kwargs)
        except DomainError as exc:
            _form_error(form, exc)
    page = _slice(qs if qs is not None else [], request)
    return form, page, _query(form, PlainFilters.FILTERS)


@login_required
def houses(request: HttpRequest) -> HttpResponse:
    form, page, query = _plain_list(request, selectors.houses_list)
    rows = [{"house": h, "owner_phone": mask_phone(h.owner_phone)} for h in page["rows"]]
    return _page(request, "houses", "web/registry/houses.html", form=form, page=page,
                 rows=rows, query=query, export_url=_export_url("houses", query),
                 placeholder=_("Address"))


@login_required
def house_detail(request: HttpRequest, pk: int) -> HttpResponse:
    scope = Scope.for_user(request.user)
    house = _one(scope, House, pk)
    residents = list(selectors.visible(scope, Person).filter(house=house,
                                                             merged_into__isnull=True)
                     .order_by("name", "id")[:200])
    households = list(house.households.select_related("head").order_by("number"))
    return _page(request, "houses", "web/registry/house.html", house=house,
                 owner_phone=mask_phone(house.owner_phone), households=households,
                 residents=_person_rows(residents))


# ---------------------------------------------------------------- organisations

@login_required
def organisations(request: HttpRequest) -> HttpResponse:
    form, page, query = _plain_list(request, selectors.organisations_list)
    rows = [{"organisation": o, "phone": mask_phone(o.phone)} for o in page["rows"]]
    return _page(request, "organisations", "web/registry/organisations.html", form=form,
                 page=page, rows=rows, query=query,
                 export_url=_export_url("organisations", query),
                 placeholder=_("Name or credit code"))


@login_required
def organisation_detail(request: HttpRequest, pk: int) -> HttpResponse:
    scope = Scope.for_user(request.user)
    organisation = _one(scope, Organisation, pk)
    return _page(request, "organisations", "web/registry/organisation.html",
                 organisation=organisation, phone=mask_phone(organisation.phone))


class OrganisationForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Name"), max_length=200)
    credit_code = forms.CharField(label=gettext_lazy("Unified social credit code"),
                                  max_length=18)
    kind = forms.ChoiceField(label=gettext_lazy("Kind"), choices=OrganisationKind.choices)
    legal_representative = forms.CharField(label=gettext_lazy("Legal representative"),
                                           max_length=100, required=False)
    phone = forms.CharField(label=gettext_lazy("Phone"), max_length=32, required=False)
    industry = forms.CharField(label=gettext_lazy("Industry"), max_length=50, required=False)
    employees = forms.IntegerField(label=gettext_lazy("Employees"), min_value=0,
                                   required=False)
    address = forms.CharField(label=gettext_lazy("Address"), max_length=200, required=False)
    grid = forms.CharField(label=gettext_lazy("Grid code"), max_length=32,
                           widget=forms.TextInput(attrs={"list": "grid-codes"}))


@login_required
@domain_errors
def organisation_new(request: HttpRequest) -> HttpResponse:
    _require_writer(request.user)
    scope = Scope.for_user(request.user)
    form = OrganisationForm(request.POST or None, auto_id="o-%s")
    if request.method == "POST" and form.is_valid():
        data = {k: v for k, v in form.cleaned_data.items() if v not in ("", None)}
        try:
            organisation = services.organisation_create(actor=request.user, data=data)
        except DomainError as exc:
            _form_error(form, exc)
        else:
            messages.success(request, _("The organisation was registered."))
            return redirect("web:registry_organisation", pk=organisation.pk)
    response = _page(request, "organisations", "web/registry/organisation_form.html",
                     form=form, grids=list(scope.grids().order_by("code")
                                           .values_list("code", "name")[:500]))
    if form.is_bound and form.errors:
        response.status_code = 400
    return response


# ---------------------------------------------------------------- special groups

class MemberFilters(forms.Form):
    group = forms.ChoiceField(label=gettext_lazy("Special group"), required=False,
                              choices=[("", gettext_lazy("Any group")), *Group.choices])
    level = forms.ChoiceField(label=gettext_lazy("Risk level"), required=False,
                              choices=[("", gettext_lazy("Any level")), *RiskLevel.choices])
    grid = forms.CharField(label=gettext_lazy("Grid code"), required=False, max_length=32)

    FILTERS = ("group", "level", "grid")


def _open_visits(field: str, ids: list[int]) -> dict[int, Visit]:
    """The open follow-up of each member (or place) of a page, in one query."""
    return {getattr(v, f"{field}_id"): v for v in
            Visit.objects.filter(**{f"{field}_id__in": ids}, state=wf.DUE)}


def _next_due(visit: Visit | None, now: dt.datetime) -> dict:
    if visit is None:
        return {"visit": None, "light": ""}
    return {"visit": visit, "light": case_light(visit, wf.OPEN_STATES, now)}


@login_required
def members(request: HttpRequest) -> HttpResponse:
    """特殊人群: the members, their risk level and their next follow-up's light."""
    scope = Scope.for_user(request.user)
    form = MemberFilters(request.GET, auto_id="f-%s")
    qs = Member.objects.none()
    if form.is_valid():
        data = form.cleaned_data
        try:
            qs = selectors.members_list(scope=scope, group=data["group"] or None,
                                        level=data["level"] or None, grid=data["grid"] or None)
        except DomainError as exc:
            _form_error(form, exc)
    page = _slice(qs.select_related("person", "worker"), request)
    now = timezone.now()
    due = _open_visits("member", [m.pk for m in page["rows"]])
    rows = [{"member": m, **_masked(m.person), **_next_due(due.get(m.pk), now)}
            for m in page["rows"]]
    query = _query(form, MemberFilters.FILTERS)
    return _page(request, "members", "web/registry/members.html", form=form, page=page,
                 rows=rows, query=query, export_url=_export_url("members", query))


@login_required
def member_detail(request: HttpRequest, pk: int) -> HttpResponse:
    scope = Scope.for_user(request.user)
    member = _one(scope, Member, pk)
    now = timezone.now()
    history = [{"visit": v, "light": case_light(v, wf.OPEN_STATES, now)}
               for v in member.visits.select_related("worker").order_by("-created_at")[:50]]
    open_visit = next((row["visit"] for row in history if row["visit"].state == wf.DUE), None)
    return _page(request, "members", "web/registry/member.html", member=member,
                 masked=_masked(member.person), visits=history,
                 next_due=_next_due(open_visit, now),
                 interval=visits.interval_for(member.group, member.level))


# ---------------------------------------------------------------- key places

@login_required
def places(request: HttpRequest) -> HttpResponse:
    form, page, query = _plain_list(request, selectors.places_list)
    now = timezone.now()
    due = _open_visits("place", [p.pk for p in page["rows"]])
    rows = [{"place": p, "contact_phone": mask_phone(p.contact_phone),
             **_next_due(due.get(p.pk), now)} for p in page["rows"]]
    return _page(request, "places", "web/registry/places.html", form=form, page=page,
                 rows=rows, query=query, export_url=_export_url("places", query),
                 placeholder=_("Name"))


@login_required
def place_detail(request: HttpRequest, pk: int) -> HttpResponse:
    scope = Scope.for_user(request.user)
    place = _one(scope, KeyPlace, pk)
    now = timezone.now()
    inspections = [{"visit": v, "light": case_light(v, wf.OPEN_STATES, now)}
                   for v in place.visits.select_related("worker").order_by("-created_at")[:50]]
    return _page(request, "places", "web/registry/place.html", place=place,
                 contact_phone=mask_phone(place.contact_phone), visits=inspections,
                 kinds=dict(PlaceKind.choices))


# ---------------------------------------------------------------- follow-ups

class VisitFilters(forms.Form):
    state = forms.ChoiceField(label=gettext_lazy("State"), required=False,
                              choices=[("", gettext_lazy("Any state")), *VisitState.choices])
    kind = forms.ChoiceField(label=gettext_lazy("Kind"), required=False,
                             choices=[("", gettext_lazy("Every kind")), *VisitKind.choices])
    light = forms.ChoiceField(label=gettext_lazy("Light"), required=False,
                              choices=[("", gettext_lazy("Any light")),
                                       *LIGHT_LABELS.items()])
    grid = forms.CharField(label=gettext_lazy("Grid code"), required=False, max_length=32)

    FILTERS = ("state", "kind", "light", "grid")


@login_required
def visit_list(request: HttpRequest) -> HttpResponse:
    """走访任务: the follow-ups of the territory, the most urgent first."""
    scope = Scope.for_user(request.user)
    form = VisitFilters(request.GET, auto_id="f-%s")
    qs = Visit.objects.none()
    if form.is_valid():
        data = form.cleaned_data
        try:
            qs = visits.visits_list(scope=scope, state=data["state"] or None,
                                    kind=data["kind"] or None, light=data["light"] or None,
                                    grid=data["grid"] or None)
        except DomainError as exc:
            _form_error(form, exc)
    page = _slice(qs.select_related("person", "place", "worker", "grid")
                  .defer("grid__geometry"), request)
    now = timezone.now()
    rows = [{"visit": v, "light": case_light(v, wf.OPEN_STATES, now)} for v in page["rows"]]
    return _page(request, "visits", "web/registry/visits.html", form=form, page=page,
                 rows=rows, query=_query(form, VisitFilters.FILTERS))


WIDGETS = {"note": case_page.TEXTAREA, "reason": case_page.TEXTAREA,
           "finding": case_page.SELECT, "assignee": case_page.SELECT,
           "amount": case_page.NUMBER, "unit": case_page.SELECT, "level": case_page.SELECT,
           "photos": case_page.FILE}
#: The fields of each action's form, in order (the services' keyword arguments).
ACTION_FIELDS = {
    "record": ["finding", "note", "photos"],
    "reassign": ["assignee", "note"],
    "cancel": ["reason"],
    "request_extension": ["amount", "unit", "reason"],
    "approve_extension": ["note"],
    "refuse_extension": ["reason"],
    "supervise": ["level", "note"],
}
REQUIRED = {"record": ("finding",)}
PRIMARY = {"record", "approve_extension"}
DANGER = {"cancel", "refuse_extension"}
SUCCESS = {
    "record": gettext_lazy("The visit was recorded; the next one is planned."),
    "reassign": gettext_lazy("Given to the other grid worker."),
    "cancel": gettext_lazy("The follow-up was cancelled."),
    "request_extension": gettext_lazy("The extension was asked for."),
    "approve_extension": gettext_lazy("The extension was approved."),
    "refuse_extension": gettext_lazy("The extension was refused."),
    "supervise": gettext_lazy("Supervision recorded."),
}


def _visit_choices(case: Visit, actions: list[str]) -> dict:
    choices: dict = {"finding": Finding.choices, "unit": UNITS, "level": LEVELS}
    if "reassign" in actions:
        workers = User.objects.filter(pk__in=grid_workers(case.grid_id)).order_by("username")
        choices["assignee"] = [(u.username, str(u)) for u in workers]
    return choices


def _visit_form_class(case: Visit, action: str, choices: dict):
    tone = "primary" if action in PRIMARY else "danger" if action in DANGER else "plain"
    fields = list(ACTION_FIELDS[action])
    if action == "record" and case.kind == wf.PERMIT:  # the renewed permit's end
        fields.insert(1, "permit_expires")
    return case_page.action_form_class(
        VISIT_CASE, action, fields, widgets=WIDGETS, choices=choices, tone=tone,
        required=REQUIRED.get(action, ()), placeholders={"permit_expires": "2027-12-31"})


def visit_context(actor: User, case: Visit, *, outcome=None, bound=None) -> dict:
    now = timezone.now()
    actions = [a for a in engine.available_actions(VISIT_CASE, actor=actor, case=case)
               if a in ACTION_FIELDS and a in visits.ACTIONS]
    choices = _visit_choices(case, actions)
    forms_ = []
    for action in actions:
        if bound is not None and bound.action == action:
            forms_.append(bound)
            continue
        forms_.append(_visit_form_class(case, action, choices)(
            initial={"version": case.version}, auto_id=f"{action}-%s"))
    forms_.sort(key=lambda f: {"primary": 0, "plain": 1, "danger": 2}[f.tone])
    opened = (outcome.action if outcome and outcome.action else
              forms_[0].action if forms_ and forms_[0].tone == "primary" else "")
    person = case.person
    return {
        "case": case, "now": now, "light": case_light(case, wf.OPEN_STATES, now),
        "person": person, "masked": _masked(person) if person else None,
        "pending": case_page.pending_extension(case),
        "timeline": case_page.timeline_items(VISIT_CASE, case),
        "links": case_selectors.links(VISIT_CASE, case),
        "forms": forms_, "opened": opened, "outcome": outcome,
    }


@login_required
@domain_errors
def visit_detail(request: HttpRequest, number: str) -> HttpResponse:
    case = engine.case_for_actor(VISIT_CASE, actor=request.user, key=number)
    return _page(request, "visits", "web/registry/visit.html",
                 **visit_context(request.user, case))


@login_required
@require_POST
@domain_errors
def visit_act(request: HttpRequest, number: str, action: str) -> HttpResponse:
    actor = request.user
    if action not in ACTION_FIELDS or action not in visits.ACTIONS:
        raise NotFound(f"no action {action!r}")
    case = engine.case_for_actor(VISIT_CASE, actor=actor, key=number)
    form = _visit_form_class(case, action, _visit_choices(case, [action]))(
        request.POST, request.FILES, auto_id=f"{action}-%s")
    outcome = case_page.take(VISIT_CASE, visits.ACTIONS[action], actor=actor, case=case,
                             form=form, success=str(SUCCESS[action]))
    try:  # as it is now, if still within reach
        case = engine.case_for_actor(VISIT_CASE, actor=actor, key=case.pk)
    except NotFound:
        messages.add_message(request, messages.SUCCESS, outcome.text)
        if is_htmx(request):
            return HttpResponse(status=204,
                                headers={"HX-Redirect": reverse("web:registry_visits")})
        return redirect("web:registry_visits")
    bound = form if outcome.level == "error" and outcome.action else None
    context = visit_context(actor, case, outcome=outcome, bound=bound)
    if is_htmx(request):  # the panel only (web/parts/case_action_form.html swaps it)
        return render(request, "web/registry/parts/visit_panel.html", context,
                      status=outcome.status)
    if outcome.level == "success":
        messages.success(request, outcome.text)
        return redirect("web:registry_visit", number=case.number)
    response = _page(request, "visits", "web/registry/visit.html", **context)
    response.status_code = outcome.status
    return response


# ---------------------------------------------------------------- a grid on the map

@login_required
def grid_map(request: HttpRequest, code: str) -> HttpResponse:
    """网格: the grid's boundary and its buildings as points on the map
    (MapLibre, no base map unless a tile server is set), beside them the
    buildings' houses and people (numbers masked)."""
    scope = Scope.for_user(request.user)
    grid = _grid_of(scope, code)
    buildings = list(selectors.visible(scope, Building).filter(grid=grid)
                     .order_by("road", "number", "building", "id")[:GRID_BUILDINGS])
    house_rows = list(selectors.visible(scope, House).filter(building__in=buildings)
                      .order_by("building_id", "unit", "room", "id"))
    residents = list(selectors.visible(scope, Person).filter(grid=grid,
                                                             merged_into__isnull=True)
                     .select_related("house").order_by("house_id", "name", "id")[:GRID_PEOPLE])
    by_house: dict[int | None, list[dict]] = {}
    for p in residents:
        by_house.setdefault(p.house_id, []).append({"person": p, **_masked(p)})
    by_building: dict[int, list[dict]] = {}
    for h in house_rows:
        by_building.setdefault(h.building_id, []).append(
            {"house": h, "people": by_house.get(h.pk, [])})
    shape = grid.shape
    config = {
        "grid": {"type": "Feature", "properties": {"code": grid.code, "name": grid.name},
                 "geometry": shapely.geometry.mapping(shape) if shape is not None else None},
        "buildings": {"type": "FeatureCollection", "features": [
            {"type": "Feature", "id": b.pk,
             "properties": {"id": b.pk, "address": b.address,
                            "houses": len(by_building.get(b.pk, []))},
             "geometry": {"type": "Point", "coordinates": [b.lng, b.lat]}}
            for b in buildings]},
        "tileUrl": settings.MAP_TILE_URL or None,
    }
    if shape is None:
        config["grid"] = None
    return _page(request, "people", "web/registry/grid.html", grid=grid,
                 buildings=[{"building": b, "houses": by_building.get(b.pk, [])}
                            for b in buildings],
                 homeless=by_house.get(None, []), map_config=config,
                 count=len(residents), more=len(residents) >= GRID_PEOPLE)


# ---------------------------------------------------------------- import and export

def importable() -> list[tuple[str, str]]:
    """The registries a file can be imported into (and exported from)."""
    return [(name, REGISTRIES[name]) for name in imports.REGISTRIES if name in REGISTRIES]


class ImportForm(forms.Form):
    registry = forms.ChoiceField(label=gettext_lazy("Registry"), choices=importable)
    file = forms.FileField(label=gettext_lazy("File (xlsx or csv)"))
    good_only = forms.TypedChoiceField(
        label=gettext_lazy("If some rows are bad"), coerce=lambda v: v == "1", initial="0",
        widget=forms.RadioSelect, choices=[
            ("0", gettext_lazy("Strict: write nothing, list every bad row")),
            ("1", gettext_lazy("Import the good rows only, list the bad ones"))])

    def clean_file(self):
        upload = self.cleaned_data["file"]
        suffix = Path(upload.name).suffix.lower()
        if suffix not in (".xlsx", ".csv"):
            raise forms.ValidationError(_("Upload an Excel workbook (.xlsx) or a CSV file."))
        return upload


def _run_import(*, job: ImportJob, path: Path, actor: User, in_thread: bool) -> None:
    try:
        imports.run_import(registry=job.registry, path=path, filename=job.filename, actor=actor,
                           good_only=job.good_only, job=job)
    except Exception:  # the job says it failed; the page shows it
        logger.exception("the import of %s failed", job.filename)
        ImportJob.objects.filter(pk=job.pk, state=ImportJob.State.RUNNING).update(
            state=ImportJob.State.FAILED, ended_at=timezone.now())
    finally:
        path.unlink(missing_ok=True)
        if in_thread:
            connection.close()


def _start_import(*, registry: str, upload, actor: User, good_only: bool) -> ImportJob:
    """The import of an uploaded file, in a thread so the page can show its
    progress; within a transaction (a test's, or ATOMIC_REQUESTS) in the
    request itself, since a thread would not see its rows."""
    folder = Path(settings.MEDIA_ROOT) / "imports"
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=folder, suffix=Path(upload.name).suffix.lower(),
                                     delete=False) as out:
        for chunk in upload.chunks():
            out.write(chunk)
    job = ImportJob.objects.create(registry=registry, filename=upload.name[:200], actor=actor,
                                   good_only=good_only)
    arguments = {"job": job, "path": Path(out.name), "actor": actor}
    if connection.in_atomic_block:
        _run_import(**arguments, in_thread=False)
    else:
        def run():
            close_old_connections()
            _run_import(**arguments, in_thread=True)

        threading.Thread(target=run, name="shanzhi-import", daemon=True).start()
    return job


def _jobs_of(user: User):
    jobs = ImportJob.objects.all()
    return jobs if user.is_superuser or user.role == Role.CITY_ADMIN else jobs.filter(actor=user)


@login_required
def import_page(request: HttpRequest) -> HttpResponse:
    """导入: the templates, the upload with its mode, the recent imports."""
    _require_ops(request.user)
    form = ImportForm(request.POST or None, request.FILES or None, auto_id="i-%s")
    if request.method == "POST" and form.is_valid():
        job = _start_import(registry=form.cleaned_data["registry"],
                            upload=form.cleaned_data["file"], actor=request.user,
                            good_only=form.cleaned_data["good_only"])
        return redirect("web:registry_import", pk=job.pk)
    response = _page(request, "imports", "web/registry/imports.html", form=form,
                     registries=importable(),
                     jobs=list(_jobs_of(request.user)[:10]))
    if form.is_bound and form.errors:
        response.status_code = 400
    return response


def _job_of(user: User, pk: int) -> ImportJob:
    job = _jobs_of(user).filter(pk=pk).first()
    if job is None:
        raise Http404(_("There is no such page, or it is not within your territory."))
    return job


def _progress(job: ImportJob) -> dict:
    """What the progress bar shows: from the importer while it runs."""
    now = imports.progress(job.pk) if job.state == ImportJob.State.RUNNING else {}
    state = now.get("state", job.state)
    done, total = now.get("done", job.done), now.get("total", job.total) or 0
    running = state == ImportJob.State.RUNNING
    percent = round(100 * done / total) if running and total else 0 if running else 100
    return {"state": state, "done": done, "total": total,
            "written": now.get("written", job.written),
            "errors": now.get("error_count", job.error_count), "percent": min(100, percent),
            "running": running}


@login_required
def import_job(request: HttpRequest, pk: int) -> HttpResponse:
    """One import: its progress bar while it runs, then the count written or
    the bad rows (line, column, message)."""
    _require_ops(request.user)
    job = _job_of(request.user, pk)
    reg = imports.REGISTRIES.get(job.registry)
    columns = {c.field: c.header for c in reg.columns} if reg else {}
    errors = [{**e, "header": columns.get(e.get("column"), e.get("column"))}
              for e in (job.errors or [])]
    return _page(request, "imports", "web/registry/import_job.html", job=job,
                 progress=_progress(job), errors=errors,
                 registry_label=REGISTRIES.get(job.registry, job.registry),
                 progress_url=reverse("web:registry_import_progress", args=[job.pk]))


@login_required
def import_progress(request: HttpRequest, pk: int) -> HttpResponse:
    _require_ops(request.user)
    response = JsonResponse(_progress(_job_of(request.user, pk)))
    response["Cache-Control"] = "no-store"
    return response


@login_required
def import_template(request: HttpRequest, registry: str, fmt: str) -> HttpResponse:
    """The empty template of a registry (its Chinese headers), xlsx or csv."""
    if registry not in REGISTRIES or fmt not in TEMPLATE_FORMATS:
        raise Http404(_("There is no such page, or it is not within your territory."))
    _require_ops(request.user)
    response = HttpResponse(imports.template(registry, fmt), content_type=TEMPLATE_FORMATS[fmt])
    response["Content-Disposition"] = content_disposition_header(
        True, f"{REGISTRIES[registry]}-{_('template')}.{fmt}")
    return response


def _export_url(registry: str, query: str) -> str | None:
    """The list's export button (None for a registry that cannot be exported yet)."""
    if registry not in imports.REGISTRIES:
        return None
    url = reverse("web:registry_export", args=[registry])
    return f"{url}?{query}" if query else url


@login_required
def export(request: HttpRequest, registry: str) -> HttpResponse:
    """A list as an Excel workbook, numbers masked; the export is logged
    (by ``imports.export_rows``: who, how many rows, which filters)."""
    if registry not in REGISTRIES or registry not in imports.REGISTRIES:
        raise Http404(_("There is no such page, or it is not within your territory."))
    _require_ops(request.user)
    scope = Scope.for_user(request.user)
    # the list's own filters (people's, the members', or search and grid)
    filter_form = {"people": PeopleFilters, "members": MemberFilters}.get(registry, PlainFilters)
    form = filter_form(request.GET)
    if not form.is_valid():
        messages.error(request, _("Correct the filters before exporting."))
        return redirect(reverse("web:registry") + "?" + request.GET.urlencode())
    data = form.cleaned_data
    filters = {name: data[name] for name in filter_form.FILTERS if data.get(name)}
    if filters.get("permit_expiring"):
        filters["permit_expiring"] = wf.PERMIT_NOTICE_DAYS
    try:
        chunks = imports.export_file(scope=scope, registry=registry, fmt="xlsx",
                                     filters=filters, actor=request.user, request=request)
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect(reverse("web:registry") + "?" + request.GET.urlencode())
    from django.core.handlers.asgi import ASGIRequest

    response = StreamingHttpResponse(
        server_stream(chunks, asynchronous=isinstance(request, ASGIRequest)), content_type=XLSX)
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    response["Content-Disposition"] = content_disposition_header(
        True, f"{REGISTRIES[registry]}-{stamp}.xlsx")
    response["Cache-Control"] = "private, no-store"
    return response
