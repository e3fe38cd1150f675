"""The actor's territory: the one place every query is filtered by.

A scope is a set of region subtrees (by materialised path) and, for grid
workers, the set of their grids. Every selector that reads territorial data
goes through :meth:`Scope.filter`; anything outside answers "not found".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import reduce
from operator import or_

from django.contrib.auth.models import AnonymousUser
from django.db.models import Q, QuerySet
from django.utils.translation import gettext

from shanzhi.core.errors import NotFound, ValidationError
from shanzhi.geo.crs import check_crs, check_lng_lat, to_wgs84
from shanzhi.geo.index import Location, get_index
from shanzhi.geo.models import Grid, Level, Region

from .models import Department, Role, User
from .staff import worker_grids


@dataclass(frozen=True)
class Scope:
    #: Region subtrees the actor may see, as path prefixes ("/1/12/").
    paths: tuple[str, ...] = ()
    #: For grid workers: the only grids they may see. None: every grid under ``paths``.
    grid_ids: frozenset[int] | None = None
    department_id: int | None = None
    unrestricted: bool = False
    role: str = Role.VIEWER
    user_id: int | None = field(default=None, compare=False)

    @classmethod
    def for_user(cls, user: User | AnonymousUser) -> Scope:
        if not isinstance(user, User) or not user.is_active:
            return cls()
        if user.is_superuser:
            return cls(unrestricted=True, role=Role.CITY_ADMIN, user_id=user.pk)
        index = get_index()
        if user.role == Role.GRID_WORKER:
            assigned = worker_grids(user.pk)
            grids = {g.pk: g.path for g in map(index.grid, assigned) if g is not None}
            if len(grids) < len(assigned):  # retired, or not in the index: ask the database
                grids.update(Grid.objects.current().filter(pk__in=assigned - grids.keys())
                             .values_list("id", "community__path"))
            return cls(paths=tuple(sorted(set(grids.values()))), grid_ids=frozenset(grids),
                       role=user.role, user_id=user.pk)
        region_id = user.region_id or (
            Department.objects.filter(pk=user.department_id).values_list("region_id", flat=True)
            .first() if user.department_id else None)
        path = (index.path(region_id) if region_id in index.regions else
                Region.objects.filter(pk=region_id).values_list("path", flat=True).first())
        if path is None:
            return cls(role=user.role, user_id=user.pk)
        return cls(paths=(path,), department_id=user.department_id, role=user.role,
                   user_id=user.pk)

    @property
    def is_empty(self) -> bool:
        return not self.unrestricted and not self.paths

    def covers(self, path: str, grid_id: int | None = None) -> bool:
        if self.unrestricted:
            return True
        if self.grid_ids is not None and grid_id is not None and grid_id not in self.grid_ids:
            return False
        return any(path.startswith(p) for p in self.paths)

    def filter(self, qs: QuerySet, *, path_field: str = "path",
               grid_field: str | None = None, department_field: str | None = None) -> QuerySet:
        """Keep only rows inside the territory. ``path_field`` names the
        column holding the row's region path; ``grid_field`` (if the rows
        belong to grids) the column holding the grid id; ``department_field``
        (if the rows are sent to departments) the column holding the
        department: a handler sees only what was sent to their department."""
        if self.unrestricted:
            return qs
        if department_field and self.role == Role.HANDLER:
            if self.department_id is None:
                return qs.none()
            return qs.filter(**{department_field: self.department_id})
        if not self.paths:
            return qs.none()
        qs = qs.filter(reduce(or_, (Q(**{f"{path_field}__startswith": p}) for p in self.paths)))
        if self.grid_ids is not None and grid_field:
            qs = qs.filter(**{f"{grid_field}__in": self.grid_ids})
        return qs

    def regions(self) -> QuerySet[Region]:
        return self.filter(Region.objects.current())

    def grids(self) -> QuerySet[Grid]:
        return self.filter(Grid.objects.current(), grid_field="id")

    def roots(self) -> QuerySet[Region]:
        """The top regions of the territory (where a map starts)."""
        if self.unrestricted:
            return Region.objects.current().filter(parent__isnull=True)
        if self.grid_ids is not None:
            return Region.objects.current().filter(grids__id__in=self.grid_ids).distinct()
        return Region.objects.current().filter(path__in=self.paths)

    def region(self, code: str) -> Region:
        """The current region with this code, if inside the territory."""
        region = self.regions().filter(code=code).first()
        if region is None:
            raise NotFound(gettext("no region with code %(code)r in your territory")
                           % {"code": code}, field="code")
        return region

    def grid(self, code: str) -> Grid:
        grid = self.grids().filter(code=code).first()
        if grid is None:
            raise NotFound(gettext("no grid with code %(code)r in your territory")
                           % {"code": code}, field="code")
        return grid


def point_check_territory(*, location: Location,
                          scope: Scope | None) -> tuple[Grid | None, Region]:
    """(grid, lowest region) of a located point where ``scope``'s user may report
    (None: anyone); a ValidationError on "location" saying why not. The rule of
    the intake, shared with the locate endpoint that the intake form's map asks:
    a point served by no city is refused; a grid worker reports only inside
    their own grids; anyone else inside their territory. No query."""
    index = get_index()
    if not location.regions:
        raise ValidationError(gettext("The point %(lng).6f,%(lat).6f lies outside every city "
                                      "this platform serves.")
                              % {"lng": location.lng, "lat": location.lat}, field="location")
    grid = index.grid(location.grid.id) if location.grid else None
    region = index.region(location.regions[0].id)
    if scope is not None and scope.grid_ids is not None:
        _check_own_grid(scope, grid, region)
    elif scope is not None and not scope.covers(region.path):
        raise ValidationError(gettext("This place lies in %(region)s, outside your territory.")
                              % {"region": " · ".join(
                                  n.name for n in reversed(location.regions)
                                  if n.level != Level.CITY)},
                              field="location", details={"region": region.code})
    return grid, region


def locate_point(*, lng, lat, crs: str,
                 scope: Scope | None) -> tuple[float, float, Grid | None, Region]:
    """(lng, lat in WGS-84, grid, lowest region) of a point given in ``crs``
    where ``scope``'s user may report (:func:`point_check_territory`)."""
    if lng is None or lat is None:
        raise ValidationError(gettext("Give both lng and lat."),
                              field="lat" if lat is None else "lng")
    lng_f, lat_f = check_lng_lat(lng, lat)
    lng_f, lat_f = to_wgs84(lng_f, lat_f, check_crs(crs))
    grid, region = point_check_territory(location=get_index().locate(lng_f, lat_f), scope=scope)
    return lng_f, lat_f, grid, region


def _check_own_grid(scope: Scope, grid, region: Region) -> None:
    """A grid worker reports only inside their own grids (a point in a
    neighbour's grid, even of the same community, is refused, naming the grid
    it fell in, so the worker can pass it on to whoever covers it)."""
    if grid is not None and grid.pk in scope.grid_ids:
        return
    details = {"grid": grid.code if grid else None, "region": region.code}
    if grid is None:
        raise ValidationError(gettext("This place lies in %(region)s but in none of its "
                                      "grids: it is not in a grid you patrol.")
                              % {"region": region.name}, field="location", details=details)
    raise ValidationError(gettext("This place lies in grid %(grid)s (%(region)s), not in a "
                                  "grid you patrol.") % {"grid": grid.name, "region": region.name},
                          field="location", details=details)
