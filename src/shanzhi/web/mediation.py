"""The dispute mediation desk (矛盾纠纷调处): the list of disputes, the intake
form, a dispute's page with one form per action the user may take now, the
agreement's PDF, and the centres' rosters. The pages only parse and present:
``mediation.services`` decides everything, exactly as for the API; what any
case type's page needs (the timeline, the action forms, a conflict told
kindly) is ``web/case.py``'s."""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from shanzhi.accounts.models import Department, Role, User
from shanzhi.accounts.scope import Scope
from shanzhi.cases import selectors as case_selectors
from shanzhi.cases.lights import LIGHTS
from shanzhi.core.errors import Conflict, DomainError, NotFound
from shanzhi.core.privacy import mask_id_number, mask_phone
from shanzhi.geo.models import Level, Region
from shanzhi.mediation import risk as mediation_risk
from shanzhi.mediation import selectors, services
from shanzhi.mediation import workflow as wf
from shanzhi.mediation.case import MEDIATION_CASE, path_prefixes
from shanzhi.mediation.models import (
    Centre,
    MediationCase,
    MediationSource,
    MediationState,
    Outcome,
    Party,
    Route,
)

from . import case as case_page
from .actions import LEVELS, UNITS
from .pages import domain_errors, is_htmx, render_page

PAGE_SIZE = 50
#: Who works the mediation desk (the nav entry; the list is scoped anyway).
DESK_ROLES = (Role.CITY_ADMIN, Role.OPERATOR, Role.MEDIATOR, Role.HANDLER)
#: How many party rows the intake form offers: applicant, respondent, one more.
PARTY_ROWS = 3
LIGHT_LABELS = {"green": gettext_lazy("Green: on time"),
                "yellow": gettext_lazy("Yellow: nearly due"),
                "red": gettext_lazy("Red: overdue")}
WEEKDAYS = (gettext_lazy("Mon"), gettext_lazy("Tue"), gettext_lazy("Wed"),
            gettext_lazy("Thu"), gettext_lazy("Fri"), gettext_lazy("Sat"),
            gettext_lazy("Sun"))


def may_work(user: User) -> bool:
    return user.is_superuser or user.role in DESK_ROLES


def may_register(user: User) -> bool:
    return user.is_superuser or user.role in services.REGISTER_ROLES


def _require_desk(user: User) -> None:
    if not may_work(user):
        raise DjangoPermissionDenied(_("The mediation desk is for centre staff, mediators and "
                                       "stationed departments."))


# ---------------------------------------------------------------- the list

class CaseFilters(forms.Form):
    """What the list may be narrowed by; every field may stay empty."""

    q = forms.CharField(label=gettext_lazy("Search"), required=False, max_length=100)
    state = forms.ChoiceField(label=gettext_lazy("State"), required=False)
    dispute_type = forms.ChoiceField(label=gettext_lazy("Dispute type"), required=False)
    risk = forms.ChoiceField(label=gettext_lazy("Risk"), required=False)
    centre = forms.ChoiceField(label=gettext_lazy("Mediation centre"), required=False)
    light = forms.ChoiceField(label=gettext_lazy("Light"), required=False)

    FILTERS = ("q", "state", "dispute_type", "risk", "centre", "light")

    def __init__(self, data, *, centres: Iterable[Centre]):
        super().__init__(data, auto_id="f-%s")
        open_value = ",".join(s for s in wf.STATES if s in wf.OPEN_STATES)
        self.fields["state"].choices = [("", _("Any state")), (open_value, _("Open (all)")),
                                        *MediationState.choices]
        self.fields["dispute_type"].choices = [("", _("Any type")), *wf.DISPUTE_TYPES]
        self.fields["risk"].choices = [("", _("Any risk")),
                                       *mediation_risk.LEVEL_LABELS.items()]
        self.fields["centre"].choices = [("", _("Any centre")),
                                         *((c.code, c.name) for c in centres)]
        self.fields["light"].choices = [("", _("Any light")),
                                        *((name, LIGHT_LABELS[name]) for name in LIGHTS)]

    def query(self) -> str:
        """The filters as the address carries them (no empty ones)."""
        from urllib.parse import urlencode

        if not self.is_bound:
            return ""
        return urlencode([(name, self.data.get(name, "")) for name in self.FILTERS
                          if self.data.get(name)])


@login_required
def case_list(request: HttpRequest) -> HttpResponse:
    """矛盾纠纷调处: the disputes of the territory, filtered, newest first."""
    _require_desk(request.user)
    scope = Scope.for_user(request.user)
    form = CaseFilters(request.GET, centres=selectors.centres_visible(scope))
    now = timezone.now()
    if form.is_valid():
        filters = {name: form.cleaned_data.get(name) or None for name in CaseFilters.FILTERS}
        qs = selectors.cases_list(scope=scope, now=now, **filters)
    else:
        qs = MediationCase.objects.none()
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    levels = mediation_risk.LEVEL_LABELS
    rows = [{"case": c, "light": selectors.light(c, now), "risk": levels.get(c.risk_level, "")}
            for c in page.object_list]
    context = {"form": form, "page": page, "rows": rows, "query": form.query(), "now": now}
    if is_htmx(request):
        response = render(request, "web/mediation/parts/results.html", context)
        query = context["query"]
        response["HX-Push-Url"] = f"{request.path}?{query}" if query else request.path
        return response
    context.update(may_register=may_register(request.user),
                   select_filters=[form[name] for name in CaseFilters.FILTERS[1:]])
    return render_page(request, "web/mediation/list.html", **context)


# ---------------------------------------------------------------- intake

class DisputeForm(forms.Form):
    """登记纠纷: the dispute, its place and its centre."""

    idempotency_key = forms.CharField(widget=forms.HiddenInput, required=False, max_length=100)
    incident = forms.CharField(widget=forms.HiddenInput, required=False, max_length=32)
    centre = forms.ChoiceField(label=gettext_lazy("Mediation centre"))
    source = forms.ChoiceField(label=gettext_lazy("Source"))
    dispute_type = forms.ChoiceField(label=gettext_lazy("Dispute type"),
                                     choices=[("", gettext_lazy("Choose…")),
                                              *wf.DISPUTE_TYPES])
    title = forms.CharField(label=gettext_lazy("Title"), max_length=services.MAX_TITLE)
    description = forms.CharField(label=gettext_lazy("Facts and claims"),
                                  max_length=services.MAX_DESCRIPTION,
                                  widget=forms.Textarea(attrs={"rows": 6}))
    amount = forms.DecimalField(label=gettext_lazy("Amount in dispute (yuan)"), required=False,
                                min_value=0, max_value=services.MAX_AMOUNT, decimal_places=2,
                                max_digits=14)
    people = forms.IntegerField(label=gettext_lazy("People involved"), min_value=1,
                                max_value=1_000_000, initial=1)
    visits = forms.IntegerField(label=gettext_lazy("Visits so far"), min_value=1,
                                max_value=1_000_000, initial=1)
    threat = forms.BooleanField(label=gettext_lazy("Threats of extreme action"),
                                required=False)
    region = forms.ChoiceField(label=gettext_lazy("Place (town or community)"))

    def __init__(self, *args, centres: Iterable[Centre], regions: list,
                 from_incident: bool = False, **kwargs):
        super().__init__(*args, auto_id="m-%s", **kwargs)
        self.fields["centre"].choices = [(c.code, c.name) for c in centres]
        sources = ((MediationSource.INCIDENT,) if from_incident
                   else (MediationSource.WALK_IN, MediationSource.HOTLINE))
        self.fields["source"].choices = [(s.value, s.label) for s in sources]
        self.fields["region"].choices = [("", _("Choose…")), *regions]


class PartyForm(forms.Form):
    """One party: the applicant, the respondent, or another (optional) one."""

    role = forms.ChoiceField(label=gettext_lazy("Role"), choices=Party.Role.choices)
    kind = forms.ChoiceField(label=gettext_lazy("Person or organisation"),
                             choices=Party.Kind.choices)
    name = forms.CharField(label=gettext_lazy("Name of the person or organisation"),
                           max_length=100)
    id_number = forms.CharField(label=gettext_lazy("Identity number or credit code"),
                                max_length=32, required=False)
    phone = forms.CharField(label=gettext_lazy("Phone"), max_length=32, required=False)
    address = forms.CharField(label=gettext_lazy("Address"), max_length=200, required=False)
    vulnerable = forms.BooleanField(label=gettext_lazy("Vulnerable (elderly, minor, disabled…)"),
                                    required=False)

    def __init__(self, *args, optional: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.optional = optional
        if optional:
            self.empty_permitted = True
            self.use_required_attribute = False

    def has_changed(self) -> bool:
        # an untouched optional row (its role and kind keep their first choice) is empty
        return any(self.data.get(self.add_prefix(name), "").strip()
                   for name in ("name", "id_number", "phone", "address"))


def _party_forms(data, initial: list[dict] | None = None) -> list[PartyForm]:
    roles = (Party.Role.APPLICANT, Party.Role.RESPONDENT, Party.Role.RESPONDENT)
    initial = initial or []
    return [PartyForm(data, prefix=f"p{i}", auto_id="m-%s", optional=i >= 2,
                      initial={"role": roles[i], **(initial[i] if i < len(initial) else {})})
            for i in range(PARTY_ROWS)]


def region_choices(scope: Scope) -> list[tuple[str, list[tuple[str, str]]]]:
    """The towns and communities of the territory, grouped by district."""
    regions = (scope.regions().filter(level__in=(Level.TOWN, Level.COMMUNITY))
               .select_related("parent").defer("geometry", "parent__geometry")
               .order_by("path"))
    groups: dict[str, list[tuple[str, str]]] = {}
    towns: dict[int, str] = {}
    for region in regions:
        if region.level == Level.TOWN:
            towns[region.pk] = region.name
            label = region.parent.name if region.parent else ""
            groups.setdefault(label, []).append((region.code, region.name))
        else:
            town = region.parent
            district = town.parent.name if town and town.parent_id and town.parent else ""
            label = district or (town.name if town else "")
            name = f"{towns.get(region.parent_id, town.name if town else '')} · {region.name}"
            groups.setdefault(label, []).append((region.code, name))
    return list(groups.items())


def _incident_prefill(actor: User, number: str) -> tuple[object, dict, list[dict]]:
    """The incident a dispute is taken from (in the actor's reach), and what
    it fills in: the facts, the place and the contact as the applicant."""
    from shanzhi.incidents import services as incident_services

    incident = incident_services.incident_for_actor(actor=actor, incident_id=number)
    extra = incident.extra or {}
    dispute_type = extra.get("dispute_type") if isinstance(extra, dict) else None
    people = extra.get("people_involved") if isinstance(extra, dict) else None
    initial = {
        "incident": incident.number, "source": MediationSource.INCIDENT,
        "dispute_type": dispute_type if dispute_type in dict(wf.DISPUTE_TYPES) else "",
        "title": (f"{incident.category.name}：" if incident.category else "")
        + incident.description[:60],
        "description": incident.description, "region": incident.region.code,
    }
    try:
        if people:
            initial["people"] = max(1, int(float(people)))
    except (TypeError, ValueError):
        pass
    initial["title"] = initial["title"][:services.MAX_TITLE]
    parties = [{"name": incident.contact_name, "phone": incident.contact_phone}] \
        if incident.contact_name else []
    return incident, initial, parties


def _party_rows(party_forms: list[PartyForm]) -> list[dict]:
    return [{name: value for name, value in f.cleaned_data.items()}
            for f in party_forms if f.has_changed() or not f.optional]


#: The service's error fields → the form's.
REGISTER_FIELDS = {"incident_number": "incident", "referred_from": "", "lng": "region",
                   "lat": "region", "grid": "region", "Idempotency-Key": ""}


def _place_error(form: DisputeForm, party_forms: list[PartyForm], exc: DomainError) -> None:
    """A refusal of the service, shown next to the field it names."""
    field = exc.field or ""
    if field.startswith("parties["):
        index = int(field[len("parties["):].split("]")[0])
        name = field.split(".", 1)[1] if "." in field else None
        rows = [f for f in party_forms if f.has_changed() or not f.optional]
        if index < len(rows):
            target = rows[index]
            target.add_error(name if name in target.fields else None, exc.message)
            return
    field = REGISTER_FIELDS.get(field, field)
    form.add_error(field if field in form.fields else None, exc.message)


@login_required
@domain_errors
def case_new(request: HttpRequest) -> HttpResponse:
    """登记纠纷: GET draws the form (prefilled from ``?incident=SJ…``), POST registers."""
    user = request.user
    if not may_register(user):
        raise DjangoPermissionDenied(_("Only centre staff and mediators register disputes."))
    scope = Scope.for_user(user)
    # a dispute is registered at a centre of the territory (not one above it)
    centres = [c for c in selectors.centres_visible(scope)
               if scope.unrestricted or any(c.path.startswith(p) for p in scope.paths)]
    regions = region_choices(scope)
    incident, initial, party_initial = None, {}, []
    number = request.GET.get("incident") or request.POST.get("incident") or ""
    if number:
        incident, initial, party_initial = _incident_prefill(user, number.strip()[:32])
    data = request.POST if request.method == "POST" else None
    form = DisputeForm(data, centres=centres, regions=regions, from_incident=bool(incident),
                       initial={"idempotency_key": str(uuid.uuid4()), **initial})
    party_forms = _party_forms(data, party_initial)
    status = 200
    if data is not None:
        valid = form.is_valid()
        valid = all([f.is_valid() for f in party_forms]) and valid
        if valid:
            try:
                case, created = _register(user, form.cleaned_data, _party_rows(party_forms),
                                          incident)
            except DomainError as exc:
                _place_error(form, party_forms, exc)
                status = exc.status
            else:
                if created:
                    messages.success(request, _("Dispute %(number)s registered.")
                                     % {"number": case.number})
                else:
                    messages.info(request, _("This dispute was already registered as "
                                             "%(number)s.") % {"number": case.number})
                return redirect("web:mediation_case", number=case.number)
        else:
            status = 400
    return render_page(request, "web/mediation/new.html", status=status, form=form,
                       parties=party_forms, incident=incident,
                       party_errors=any(f.errors for f in party_forms))


def _register(user: User, data: dict, parties: list[dict], incident):
    fields = {"centre": data["centre"], "dispute_type": data["dispute_type"],
              "title": data["title"], "people": data["people"], "visits": data["visits"],
              "threat": data["threat"], "amount": data["amount"],
              "idempotency_key": data["idempotency_key"] or None}
    if incident is not None:
        return services.case_from_incident(
            actor=user, incident={"number": incident.number, "description": data["description"],
                                  "region": data["region"], "id": incident.pk},
            parties=parties, **fields)
    return services.case_register(actor=user, source=data["source"],
                                  description=data["description"], region=data["region"],
                                  parties=parties, **fields)


# ---------------------------------------------------------------- the case page

WIDGETS = {
    "note": case_page.TEXTAREA, "reason": case_page.TEXTAREA, "terms": case_page.LINES,
    "performance": case_page.TEXTAREA, "assignee": case_page.SELECT,
    "centre": case_page.SELECT, "route": case_page.SELECT, "outcome": case_page.SELECT,
    "unit": case_page.SELECT, "level": case_page.SELECT, "holds": case_page.CHECKBOX,
    "judicial_confirmation": case_page.CHECKBOX, "held_at": case_page.DATETIME,
    "amount": case_page.NUMBER, "place": case_page.TEXT, "participants": case_page.TEXT,
}
#: The fields of each action's form, in order (the services' keyword arguments).
ACTION_FIELDS = {
    "assign": ["assignee", "note"],
    "transfer": ["centre", "reason"],
    "refer_up": ["reason"],
    "record_session": ["held_at", "place", "participants", "note"],
    "agree": ["terms", "outcome", "performance", "judicial_confirmation"],
    "refer_out": ["route", "reason"],
    "follow_up": ["holds", "note"],
    "close": ["note"],
    "reopen": ["reason"],
    "withdraw": ["reason"],
    "request_extension": ["amount", "unit", "reason"],
    "approve_extension": ["note"],
    "refuse_extension": ["reason"],
    "supervise": ["level", "note"],
}
#: Required by the services though the table does not list them.
REQUIRED = {"record_session": ("place", "participants")}
LABELS = {
    "held_at": gettext_lazy("Held at"), "place": gettext_lazy("Where it was held"),
    "participants": gettext_lazy("Participants"), "outcome": gettext_lazy("Outcome"),
    "performance": gettext_lazy("How and when it is performed"),
    "judicial_confirmation": gettext_lazy("The parties will apply for judicial confirmation"),
    "holds": gettext_lazy("The agreement holds"),
    ("agree", "terms"): gettext_lazy("Terms (one clause per line)"),
    ("record_session", "note"): gettext_lazy("What was said and agreed"),
    ("follow_up", "note"): gettext_lazy("What the follow-up found"),
    ("refer_out", "reason"): gettext_lazy("Why mediation failed"),
    ("refer_out", "route"): gettext_lazy("Refer to"),
    ("supervise", "note"): gettext_lazy("Instruction"),
}
HINTS = {("agree", "terms"): gettext_lazy("One clause per line.")}
PRIMARY = {"assign", "record_session", "agree", "follow_up", "close", "approve_extension"}
DANGER = {"refer_out", "withdraw", "reopen", "refuse_extension"}
SUCCESS = {
    "assign": gettext_lazy("Assigned: the mediation has begun."),
    "transfer": gettext_lazy("Transferred to the other centre."),
    "refer_up": gettext_lazy("Referred to the centre above."),
    "record_session": gettext_lazy("The session was recorded."),
    "agree": gettext_lazy("The agreement was recorded: follow it up."),
    "refer_out": gettext_lazy("Referred out: the mediation case is closed."),
    "follow_up": gettext_lazy("The follow-up was recorded."),
    "close": gettext_lazy("The mediation case is closed."),
    "reopen": gettext_lazy("Reopened: mediation goes on."),
    "withdraw": gettext_lazy("Withdrawn: the mediation case is closed."),
    "request_extension": gettext_lazy("The extension was asked for."),
    "approve_extension": gettext_lazy("The extension was approved."),
    "refuse_extension": gettext_lazy("The extension was refused."),
    "supervise": gettext_lazy("Supervision recorded."),
}


def _assignees(case: MediationCase) -> list:
    """The mediators of the case's centre, and the departments on its roster."""
    centre = case.centre
    prefixes = path_prefixes(centre.path)
    mediators = (User.objects.filter(role=Role.MEDIATOR, is_active=True)
                 .filter(Q(region__path__startswith=centre.path) | Q(region__path__in=prefixes))
                 .order_by("username"))
    today = timezone.localdate()
    on_duty = {e.department_id for e in selectors.roster(centre, on=today)}
    roster = (centre.roster.select_related("department").exclude(ends_on__lt=today)
              .order_by("department__code"))
    groups = []
    people = [(u.username, str(u)) for u in mediators]
    if people:
        groups.append((_("Mediators"), people))
    departments = [(e.department.code, e.department.name
                    + ("（" + _("stationed today") + "）" if e.department_id in on_duty else ""))
                   for e in roster]
    if departments:
        groups.append((_("Stationed departments"), list(dict(departments).items())))
    return groups


def _choices(case: MediationCase, actions: list[str], scope: Scope) -> dict:
    choices: dict = {"route": Route.choices, "unit": UNITS, "level": LEVELS,
                     "outcome": [(Outcome.AGREEMENT, Outcome.AGREEMENT.label),
                                 (Outcome.PARTIAL, Outcome.PARTIAL.label)]}
    if "assign" in actions:
        choices["assignee"] = _assignees(case)
    if "transfer" in actions:
        choices["centre"] = [(c.code, c.name) for c in Centre.objects.filter(is_active=True)
                             .exclude(pk=case.centre_id).order_by("path", "code")]
    return choices


def _tone(action: str) -> str:
    return "primary" if action in PRIMARY else "danger" if action in DANGER else "plain"


def form_class(case: MediationCase, action: str, choices: dict):
    return case_page.action_form_class(
        MEDIATION_CASE, action, ACTION_FIELDS[action], widgets=WIDGETS, choices=choices,
        labels=LABELS, tone=_tone(action), required=REQUIRED.get(action, ()), hints=HINTS)


def _forms(case: MediationCase, actions: list[str], choices: dict, *, bound=None) -> list:
    """One form per action, the usual next step first; ``bound`` the form sent."""
    out = []
    for action in actions:
        if bound is not None and bound.action == action:
            out.append(bound)
            continue
        initial = {"version": case.version}
        if action == "record_session":
            initial["held_at"] = timezone.localtime().replace(second=0, microsecond=0)
        if action == "follow_up":
            initial["holds"] = True
        if action == "agree":
            initial["outcome"] = Outcome.AGREEMENT
        out.append(form_class(case, action, choices)(initial=initial, auto_id=f"{action}-%s"))
    return sorted(out, key=lambda f: {"primary": 0, "plain": 1, "danger": 2}[f.tone])


def _names(entries_data: Iterable[dict]) -> dict:
    """The codes a mediation timeline mentions, by their names."""
    centres = set()
    usernames = set()
    for data in entries_data:
        for key in ("centre", "from", "to"):
            if isinstance(data.get(key), str):
                centres.add(data[key])
        if isinstance(data.get("assignee"), str):
            usernames.add(data["assignee"])
    centre_names = dict(Centre.objects.filter(code__in=centres).values_list("code", "name"))
    assignees = {u.username: str(u) for u in User.objects.filter(username__in=usernames)}
    assignees.update(Department.objects.filter(code__in=usernames).values_list("code", "name"))
    return {"centre": centre_names, "from": centre_names, "to": centre_names,
            "assignee": assignees, "dispute_type": dict(wf.DISPUTE_TYPES),
            "source": dict(MediationSource.choices), "route": dict(Route.choices),
            "outcome": dict(Outcome.choices), "unit": dict(UNITS), "level": dict(LEVELS)}


TIMELINE_LABELS = {
    **LABELS, "source": gettext_lazy("Source"), "dispute_type": gettext_lazy("Dispute type"),
    "region": gettext_lazy("Place"), "grid": gettext_lazy("Grid"),
    "incident": gettext_lazy("Incident"), "referred_from": gettext_lazy("Referred from"),
    "parties": gettext_lazy("Parties"), "from": gettext_lazy("From"), "to": gettext_lazy("To"),
    "terms": gettext_lazy("Terms"), "due_at": gettext_lazy("Deadline"),
    "stage": gettext_lazy("Stage"), "judicial_confirmation": gettext_lazy("Judicial confirmation"),
    "holds": gettext_lazy("Agreement holds"), "route": gettext_lazy("Referred to"),
}


def timeline(case: MediationCase) -> list:
    entries = list(case_selectors.timeline(MEDIATION_CASE, case))
    names = _names(e.data or {} for e in entries)
    regions = dict(Region.objects.filter(
        code__in={(e.data or {}).get("region") for e in entries} - {None})
        .values_list("code", "name"))
    names["region"] = regions
    names["stage"] = {k: str(v) for k, v in MEDIATION_CASE.stage_labels.items()}
    labels = {k: v for k, v in TIMELINE_LABELS.items() if isinstance(k, str)}

    def details(entry) -> list[tuple[str, str]]:
        out = case_page.entry_details(MEDIATION_CASE, entry, names=names, labels=labels,
                                      skip=("risk", "extension", "warnings", "supervised"))
        risk = (entry.data or {}).get("risk")
        if isinstance(risk, dict) and risk.get("level"):
            text = str(mediation_risk.LEVEL_LABELS.get(risk["level"], risk["level"]))
            reasons = [str(mediation_risk.REASON_LABELS.get(r, r))
                       for r in risk.get("reasons") or []]
            out.insert(0, (_("Risk"), text + (f"（{'、'.join(reasons)}）" if reasons else "")))
        return out

    return case_page.timeline_items(MEDIATION_CASE, case, details=details, entries=entries)


def _parties(case: MediationCase) -> list[dict]:
    """The parties as the page shows them: identity numbers and phones masked
    (an organisation's credit code is public)."""
    return [{"role": p.get_role_display(), "name": p.name,
             "organisation": p.kind == Party.Kind.ORGANISATION,
             "id_number": p.id_number if p.kind == Party.Kind.ORGANISATION
             else mask_id_number(p.id_number),
             "phone": mask_phone(p.phone), "vulnerable": p.vulnerable}
            for p in case.parties.all()]


def case_context(actor: User, case: MediationCase, *, outcome=None, bound=None) -> dict:
    now = timezone.now()
    scope = Scope.for_user(actor)
    actions = [a for a in services.available_actions(actor=actor, case=case)
               if a in ACTION_FIELDS]
    forms_ = _forms(case, actions, _choices(case, actions, scope), bound=bound)
    opened = (outcome.action if outcome and outcome.action else
              forms_[0].action if forms_ and forms_[0].tone == "primary" else "")
    return {
        "case": case, "now": now, "light": selectors.light(case, now),
        "stage_label": MEDIATION_CASE.stage_labels.get(case.stage, ""),
        "risk_label": mediation_risk.LEVEL_LABELS.get(case.risk_level, case.risk_level),
        "risk_reasons": [mediation_risk.REASON_LABELS.get(r, r) for r in case.risk_reasons],
        "parties": _parties(case), "sessions": list(case.sessions.select_related("recorded_by")),
        "links": case_selectors.links(MEDIATION_CASE, case),
        "pending": case_page.pending_extension(case),
        "timeline": timeline(case), "forms": forms_, "opened": opened, "outcome": outcome,
    }


@login_required
@domain_errors
def case_detail(request: HttpRequest, number: str) -> HttpResponse:
    case = services.case_for_actor(actor=request.user, case_id=number)
    return render_page(request, "web/mediation/case.html", **case_context(request.user, case))


@login_required
@require_POST
@domain_errors
def case_act(request: HttpRequest, number: str, action: str) -> HttpResponse:
    actor = request.user
    if action not in services.ACTIONS or action not in ACTION_FIELDS:
        raise NotFound(f"no action {action!r}")
    case = services.case_for_actor(actor=actor, case_id=number)
    scope = Scope.for_user(actor)
    form = form_class(case, action, _choices(case, [action], scope))(
        request.POST, auto_id=f"{action}-%s")
    outcome = case_page.take(MEDIATION_CASE, services.ACTIONS[action], actor=actor, case=case,
                             form=form, success=str(SUCCESS[action]))
    try:  # as it is now, if still within reach
        case = services.case_for_actor(actor=actor, case_id=case.pk)
    except NotFound:
        messages.add_message(request, messages.SUCCESS if outcome.level == "success"
                             else messages.WARNING, outcome.text if outcome.level == "success"
                             else _("This mediation case is no longer within your reach."))
        if is_htmx(request):
            return HttpResponse(status=204, headers={"HX-Redirect": reverse("web:mediation")})
        return redirect("web:mediation")
    bound = form if outcome.level == "error" and outcome.action else None
    if outcome.level == "warning":  # a conflict: the forms start again from the case as it is
        bound = None
    context = case_context(actor, case, outcome=outcome, bound=bound)
    if is_htmx(request):
        return render(request, "web/mediation/parts/panel.html", context, status=outcome.status)
    if outcome.level == "success":
        messages.success(request, outcome.text)
        return redirect("web:mediation_case", number=case.number)
    return render_page(request, "web/mediation/case.html", status=outcome.status, **context)


@login_required
@domain_errors
def agreement_pdf(request: HttpRequest, number: str) -> HttpResponse:
    """人民调解协议书 as a PDF (identity and phone numbers masked)."""
    case = services.case_for_actor(actor=request.user, case_id=number)
    try:
        pdf = services.agreement_pdf(case)
    except Conflict as exc:
        messages.warning(request, exc.message)
        return redirect("web:mediation_case", number=case.number)
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = content_disposition_header(
        True, f"人民调解协议书-{case.number}.pdf")
    response["Cache-Control"] = "private, no-store"
    return response


# ---------------------------------------------------------------- the roster

def _weekdays(days: list[int]) -> str:
    if not days:
        return _("Every working day")
    return "、".join(str(WEEKDAYS[d]) for d in sorted(days) if 0 <= d <= 6)


@login_required
def roster(request: HttpRequest) -> HttpResponse:
    """The centres serving the territory, each with its roster; who is
    stationed today is marked. Read-only."""
    _require_desk(request.user)
    scope = Scope.for_user(request.user)
    today = timezone.localdate()
    centres = []
    for centre in selectors.centres_visible(scope).prefetch_related("roster__department"):
        on_duty = {e.pk for e in selectors.roster(centre, on=today)}
        rows = [{"entry": e, "weekdays": _weekdays(e.weekdays), "today": e.pk in on_duty}
                for e in centre.roster.all()]
        centres.append({"centre": centre, "rows": rows})
    return render_page(request, "web/mediation/roster.html", centres=centres, today=today)
