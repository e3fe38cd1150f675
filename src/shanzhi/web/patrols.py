"""巡查日志, the patrol log: a day's patrols of the territory, and one patrol
with its track drawn as an SVG from its points (no map library: a walk of a
few hundred metres needs no base map). The pages only parse and present:
``patrols.selectors`` decides who sees what, exactly as for the API."""

from __future__ import annotations

import datetime as dt
import math
import uuid
from urllib.parse import urlencode

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from shanzhi.accounts.models import Role, User
from shanzhi.accounts.scope import Scope
from shanzhi.patrols import selectors
from shanzhi.patrols.models import Patrol

from .pages import domain_errors, render_page

PAGE_SIZE = 100
#: The roles whose menu offers the log (a grid worker reads their own walks on the phone).
MENU_ROLES = (Role.CITY_ADMIN, Role.OPERATOR, Role.VIEWER)
#: The track's drawing: its box in SVG units, and the margin inside it.
SVG_WIDTH, SVG_HEIGHT, SVG_MARGIN = 640, 420, 24


def in_menu(user: User) -> bool:
    return user.is_superuser or user.role in MENU_ROLES


def _require_reader(user: User) -> None:
    if not (user.is_superuser or user.role in selectors.READERS):
        raise DjangoPermissionDenied(_("The patrol log is for linkage centres, viewers and "
                                       "grid workers."))


class LogFilters(forms.Form):
    day = forms.DateField(label=gettext_lazy("Day"), required=False,
                          widget=forms.DateInput(attrs={"type": "date"}))
    worker = forms.ChoiceField(label=gettext_lazy("Grid worker"), required=False)
    grid = forms.CharField(label=gettext_lazy("Grid code"), required=False, max_length=32)


def duration(seconds: int) -> str:
    """``1:05`` (hours and minutes)."""
    minutes = seconds // 60
    return f"{minutes // 60}:{minutes % 60:02d}"


def distance(metres: float) -> str:
    return f"{metres / 1000:.2f} km" if metres >= 1000 else f"{metres:.0f} m"


def _row(patrol: Patrol) -> dict:
    return {"patrol": patrol, "checkins": len(patrol.checkins.all()),
            "distance": distance(patrol.distance_m), "duration": duration(patrol.duration_s)}


@login_required
def patrol_log(request: HttpRequest) -> HttpResponse:
    """巡查日志: the patrols started on a day in the user's territory."""
    _require_reader(request.user)
    scope = Scope.for_user(request.user)
    today = timezone.localdate()
    try:  # the day first: the worker filter offers the workers of that day
        day = forms.DateField(required=False).clean(request.GET.get("day")) or today
    except forms.ValidationError:
        day = today
    start, end = selectors.day_span(day)
    figures = selectors.worker_figures(scope, start, end)
    form = LogFilters(request.GET or None, auto_id="f-%s", initial={"day": day})
    form.fields["worker"].choices = [("", _("Every worker")),
                                     *((f.username, f.name) for f in figures)]
    worker = grid = None
    if form.is_bound and form.is_valid():
        worker = form.cleaned_data["worker"] or None
        grid = form.cleaned_data["grid"] or None
    patrols = selectors.patrols_list(scope, day=day, worker=worker, grid=grid)
    page = Paginator(patrols, PAGE_SIZE).get_page(request.GET.get("page"))
    totals = {"patrols": sum(f.patrols for f in figures),
              "distance": distance(sum(f.distance_m for f in figures)),
              "duration": duration(sum(f.duration_s for f in figures)),
              "checkins": sum(f.checkins for f in figures)}
    query = urlencode([("day", day.isoformat()), *(
        (name, value) for name, value in (("worker", worker), ("grid", grid)) if value)])
    return render_page(
        request, "web/patrols/list.html", form=form, day=day, page=page, query=f"{query}&",
        rows=[_row(p) for p in page.object_list], totals=totals,
        figures=[{"figures": f, "distance": distance(f.distance_m),
                  "duration": duration(f.duration_s)} for f in figures],
        previous_day=day - dt.timedelta(days=1),
        next_day=day + dt.timedelta(days=1) if day < today else None)


@login_required
@domain_errors
def patrol_page(request: HttpRequest, pk: uuid.UUID) -> HttpResponse:
    """One patrol: its figures, its check-ins and its track."""
    _require_reader(request.user)
    patrol = selectors.patrol_detail(actor=request.user, patrol_id=pk)
    checkins = list(patrol.checkins.all())
    return render_page(request, "web/patrols/detail.html", patrol=patrol,
                       row=_row(patrol), drawing=track_drawing(patrol, checkins),
                       checkins=checkins)


def track_drawing(patrol: Patrol, checkins: list) -> dict | None:
    """The track and the check-ins in SVG coordinates: an equirectangular
    projection around the track's middle (true to scale over a grid's few
    hundred metres), fitted into the box, north up."""
    points = [(p[1], p[2]) for p in patrol.track]
    marks = [(c.lng, c.lat) for c in checkins if c.lng is not None]
    every = points + marks
    if not every:
        return None
    lngs, lats = [p[0] for p in every], [p[1] for p in every]
    shrink = math.cos(math.radians((min(lats) + max(lats)) / 2))
    span_x = max((max(lngs) - min(lngs)) * shrink, 1e-6)
    span_y = max(max(lats) - min(lats), 1e-6)
    scale = min((SVG_WIDTH - 2 * SVG_MARGIN) / span_x, (SVG_HEIGHT - 2 * SVG_MARGIN) / span_y)
    # centred in the box
    left = (SVG_WIDTH - span_x * scale) / 2
    top = (SVG_HEIGHT - span_y * scale) / 2

    def xy(lng: float, lat: float) -> tuple[float, float]:
        return (round(left + (lng - min(lngs)) * shrink * scale, 1),
                round(top + (max(lats) - lat) * scale, 1))

    line = [xy(*p) for p in points]
    metres_per_unit = 111_195 / scale  # one degree of latitude is 111.195 km
    bar = _scale_bar(metres_per_unit)
    return {
        "width": SVG_WIDTH, "height": SVG_HEIGHT,
        "polyline": " ".join(f"{x},{y}" for x, y in line),
        "start": line[0] if line else None,
        "end": line[-1] if len(line) > 1 else None,
        "checkins": [{"x": x, "y": y, "n": i}
                     for i, (x, y) in enumerate((xy(*m) for m in marks), start=1)],
        "bar": bar,
    }


def _scale_bar(metres_per_unit: float) -> dict:
    """A round length (10 m, 20 m, 50 m, 100 m …) drawn about 100 units long."""
    target = metres_per_unit * 100
    length = 10.0
    for step in (10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000):
        if step <= target:
            length = step
    width = round(length / metres_per_unit, 1)
    label = f"{length / 1000:g} km" if length >= 1000 else f"{length:g} m"
    x = SVG_MARGIN
    y = SVG_HEIGHT - SVG_MARGIN / 2
    return {"x1": x, "x2": round(x + width, 1), "y": y, "label": label,
            "label_y": round(y - 6, 1)}
