"""The desks: the linkage centre's case desk (受理/派遣台), the department's
desk (处置台), and the export of a filtered list to Excel. Each list is the
actor's scope narrowed by the filters in the address; with htmx only the
results are sent back."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.handlers.asgi import ASGIRequest
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from shanzhi.accounts.scope import Scope
from shanzhi.core.xlsx import CONTENT_TYPE, stream_xlsx
from shanzhi.incidents import selectors
from shanzhi.incidents import workflow as wf
from shanzhi.incidents.models import Channel, State

from .export import export_columns, export_rows, server_stream
from .filters import (
    ALL_STATES,
    LIGHTS,
    OPEN,
    DeskFilters,
    department_choices,
    filtered_incidents,
    region_choices,
    region_name,
)
from .pages import desk_label, is_handler, is_htmx, render_page

#: The department desk's tabs: what was sent to the department, by state.
DESK_TABS = (
    (f"{wf.DISPATCHED},{wf.IN_PROGRESS}", gettext_lazy("To do")),
    (wf.DISPATCHED, gettext_lazy("To sign")),
    (wf.IN_PROGRESS, gettext_lazy("In progress")),
    (wf.HANDLED, gettext_lazy("Waiting for verification")),
    (wf.CLOSED, gettext_lazy("Closed")),
    (ALL_STATES, gettext_lazy("All")),
)
DEPARTMENT_DEFAULT = DESK_TABS[0][0]


def _page_of(request: HttpRequest, qs):
    return Paginator(qs, 50).get_page(request.GET.get("page"))


def _rows(page, now) -> list[dict]:
    return [{"incident": i, "light": selectors.light(i, now)} for i in page.object_list]


def _results_context(request: HttpRequest, form: DeskFilters, scope: Scope, url_name: str):
    now = timezone.now()
    page = _page_of(request, filtered_incidents(scope, form, now))
    return {"form": form, "page": page, "rows": _rows(page, now), "now": now,
            "sort": form.ordering, "query": form.query(), "list_url": url_name}


def _results(request: HttpRequest, template: str, context: dict,
             form: DeskFilters) -> HttpResponse:
    """The results alone, for htmx; the address it shows is the filters' own
    (no empty fields), with the page asked for."""
    query = form.query(page=request.GET.get("page", ""))
    response = render(request, template, context)
    response["HX-Push-Url"] = f"{request.path}?{query}" if query else request.path
    return response


@login_required
def case_desk(request: HttpRequest) -> HttpResponse:
    """受理/派遣台: every incident of the territory, filtered and sorted."""
    scope = Scope.for_user(request.user)
    form = DeskFilters(request.GET)
    context = _results_context(request, form, scope, "web:incidents")
    if is_htmx(request):
        return _results(request, "web/parts/case_results.html", context, form)
    region = form.value("region")
    regions = region_choices(scope)
    if region and region not in {code for code, _name in regions}:
        regions.append((region, region_name(scope, region)))
    context.update(
        title=desk_label(request.user), regions=regions,
        departments=department_choices(scope), categories=_category_choices(),
        states=[("", _("Any state")), (OPEN, _("Open (all)")), *State.choices],
        lights=LIGHTS, channels=Channel.choices)
    return render_page(request, "web/case_desk.html", **context)


def _category_choices() -> list[tuple[str, list]]:
    """Classes (大类) with their subclasses (小类), for a select with groups."""
    classes: dict[str, list] = {}
    names: dict[str, str] = {}
    for category in selectors.categories():
        if category.parent_id is None:
            names[category.code] = category.name
            classes.setdefault(category.code, [])
        else:
            classes.setdefault(category.parent.code, []).append(category)
    return [(code, names.get(code, code), subs) for code, subs in classes.items()]


@login_required
def department_desk(request: HttpRequest) -> HttpResponse:
    """处置台: what was sent to the handler's department."""
    if not is_handler(request.user):
        return redirect("web:incidents")
    scope = Scope.for_user(request.user)
    data = request.GET.copy()
    if "state" not in data:
        data["state"] = DEPARTMENT_DEFAULT
    form = DeskFilters(data)
    context = _results_context(request, form, scope, "web:department_desk")
    counts = selectors.state_counts(scope)
    tabs = [{"state": state, "label": label,
             "count": sum(counts.get(s, 0) for s in state.split(",")),
             "active": form.value("state") == state} for state, label in DESK_TABS]
    context.update(tabs=tabs, department=request.user.department, lights=LIGHTS)
    if is_htmx(request):
        return _results(request, "web/parts/department_results.html", context, form)
    return render_page(request, "web/department_desk.html", **context)


@login_required
def export(request: HttpRequest) -> HttpResponse:
    """The filtered list as an Excel workbook, streamed row by row. Filters
    that do not hold (an unknown state, a bad date, a region outside the
    territory) export nothing: the answer is the desk showing what is wrong,
    with status 400."""
    scope = Scope.for_user(request.user)
    form = DeskFilters(request.GET)
    now = timezone.now()
    selected = filtered_incidents(scope, form, now)
    if form.errors:
        response = case_desk(request)
        response.status_code = 400
        return response
    incidents = selected.iterator(chunk_size=1000)
    chunks = stream_xlsx(columns=export_columns(), rows=export_rows(incidents, now),
                         sheet_name=_("Incidents"), tz=timezone.get_current_timezone())
    response = StreamingHttpResponse(
        server_stream(chunks, asynchronous=isinstance(request, ASGIRequest)),
        content_type=CONTENT_TYPE)
    stamp = timezone.localtime(now).strftime("%Y%m%d-%H%M")
    response["Content-Disposition"] = content_disposition_header(
        True, f"{_('Incidents')}-{stamp}.xlsx")
    response["Cache-Control"] = "private, no-store"
    return response
