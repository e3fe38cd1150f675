"""The writes of a patrol: start, points, check-ins, stop (docs/patrols.md).

Every write is idempotent, because the phone's outbox may send it twice: a
patrol and a check-in are named by the phone (a UUID), the same id again
answers what is stored; points are keyed by their instant, so a batch sent
again adds nothing; stopping a stopped patrol answers it as it is. Only the
worker who started a patrol writes to it: anyone else's id is "not found".
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext, gettext_lazy

from shanzhi.accounts.models import Role, User
from shanzhi.accounts.scope import Scope, locate_point
from shanzhi.cases.engine import MAX_NOTE, check_length, check_photos
from shanzhi.core.errors import Conflict, NotFound, PermissionDenied, ValidationError
from shanzhi.geo.crs import check_crs, check_lng_lat, to_wgs84
from shanzhi.geo.index import get_index

from .models import CheckIn, CheckInPhoto, Patrol

#: A phone's clock may run a little ahead of the server's.
CLOCK_SLACK = dt.timedelta(minutes=5)
#: The oldest start taken: a phone may keep a patrol offline for days, not months.
MAX_AGE = dt.timedelta(days=30)
#: Points per request, and per patrol (a point every 5 s is 720 an hour).
MAX_POINTS_PER_REQUEST = 500
MAX_POINTS = 20_000
#: A position less accurate than this (metres) is kept in the track but not
#: counted in the distance: its jitter would add metres nobody walked.
MAX_ACCURACY_M = 100.0
EARTH_RADIUS_M = 6_371_008.8
#: Coordinates kept to 1e-7 degree (about 1 cm).
DIGITS = 7


# ---------------------------------------------------------------- checks

def _instant(value: dt.datetime, field: str, *, now: dt.datetime,
             not_before: dt.datetime | None = None,
             not_after: dt.datetime | None = None) -> dt.datetime:
    """``value`` in UTC, or a ValidationError naming ``field``: it must carry a
    time zone, lie no later than now (plus the phone clock's slack) and within
    the patrol (``not_before`` … ``not_after``)."""
    if not isinstance(value, dt.datetime):
        raise ValidationError(gettext("%(field)s must be a date and time.") % {"field": field},
                              field=field)
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValidationError(gettext("%(field)s must carry a time zone (e.g. "
                                      "2026-12-02T08:30:00+08:00).") % {"field": field},
                              field=field)
    try:
        utc = value.astimezone(dt.UTC)
    except OverflowError:
        raise ValidationError(gettext("%(field)s lies out of range.") % {"field": field},
                              field=field) from None
    if utc > now + CLOCK_SLACK:
        raise ValidationError(gettext("%(field)s lies in the future (%(at)s): check the "
                                      "phone's clock.")
                              % {"field": field, "at": f"{timezone.localtime(utc):%Y-%m-%d %H:%M}"},
                              field=field)
    if not_before is not None and utc < not_before:
        raise ValidationError(gettext("%(field)s lies before the patrol started.")
                              % {"field": field}, field=field)
    if not_after is not None and utc > not_after:
        raise ValidationError(gettext("%(field)s lies after the patrol ended.")
                              % {"field": field}, field=field)
    return utc


def _lng_lat(lng: Any, lat: Any, crs: str, field: str = "") -> tuple[float, float] | None:
    """A point in WGS-84, or None when neither coordinate is given."""
    if lng is None and lat is None:
        return None
    if lng is None or lat is None:
        missing = "lng" if lng is None else "lat"
        raise ValidationError(gettext("Give both lng and lat, or neither."),
                              field=f"{field}{missing}")
    try:
        lng_f, lat_f = check_lng_lat(lng, lat)
    except ValidationError as exc:
        raise ValidationError(exc.message, field=f"{field}{exc.field}") from None
    lng_w, lat_w = to_wgs84(lng_f, lat_f, crs)
    return round(float(lng_w), DIGITS), round(float(lat_w), DIGITS)


def _key(at: dt.datetime) -> str:
    """A point's instant as the track stores it (UTC, to the millisecond): its
    key for de-duplication, and its sort order."""
    return at.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _parse_key(key: str) -> dt.datetime:
    return dt.datetime.fromisoformat(key.replace("Z", "+00:00"))


# ---------------------------------------------------------------- figures

def track_distance(track: Sequence[Sequence]) -> float:
    """Metres along the track (haversine between consecutive points), over
    the points whose accuracy is known to be within :data:`MAX_ACCURACY_M`
    or not given."""
    rows = [(p[1], p[2]) for p in track if p[3] is None or p[3] <= MAX_ACCURACY_M]
    if len(rows) < 2:
        return 0.0
    lng, lat = np.radians(np.asarray(rows, dtype=float)).T
    dlat, dlng = np.diff(lat), np.diff(lng)
    a = np.sin(dlat / 2) ** 2 + np.cos(lat[:-1]) * np.cos(lat[1:]) * np.sin(dlng / 2) ** 2
    return float(2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0))).sum())


def _refigure(patrol: Patrol) -> None:
    """Distance, duration and point count from the track and the ends: a
    running patrol lasts until its latest point."""
    patrol.distance_m = round(track_distance(patrol.track), 1)
    patrol.point_count = len(patrol.track)
    end = patrol.ended_at or (_parse_key(patrol.track[-1][0]) if patrol.track else None)
    patrol.duration_s = max(0, int((end - patrol.started_at).total_seconds())) if end else 0


# ---------------------------------------------------------------- start

def _own(actor: User, patrol_id: uuid.UUID, *, lock: bool = True) -> Patrol:
    """The actor's own patrol (locked for the write); another's is not found."""
    qs = Patrol.objects.select_for_update() if lock else Patrol.objects.all()
    patrol = qs.filter(pk=patrol_id, worker_id=actor.pk).first()
    if patrol is None:
        raise NotFound(gettext("No patrol of yours has this id."), field="patrol_id")
    return patrol


def _replay_start(actor: User, patrol_id: uuid.UUID) -> Patrol | None:
    found = Patrol.objects.filter(pk=patrol_id).first()
    if found is not None and found.worker_id != actor.pk:
        # the id names someone else's patrol: say nothing of it
        raise Conflict(gettext("This patrol id is already in use: start the patrol with a "
                               "new id."), field="id")
    return found


def patrol_start(*, actor: User, id: uuid.UUID, started_at: dt.datetime, lng=None, lat=None,
                 crs: str = "wgs84") -> tuple[Patrol, bool]:
    """Start a patrol named ``id`` by the phone; (the patrol, created). The
    same id again answers the patrol stored (False). A start point, if given,
    must lie in one of the worker's grids (the rule of the intake)."""
    if actor.role != Role.GRID_WORKER:
        raise PermissionDenied(gettext("Only grid workers patrol."))
    found = _replay_start(actor, id)
    if found is not None:
        return found, False
    scope = Scope.for_user(actor)
    if not scope.grid_ids:
        raise PermissionDenied(gettext("You patrol no grid: ask your community to assign "
                                       "you one."))
    now = timezone.now()
    started = _instant(started_at, "started_at", now=now)
    if started < now - MAX_AGE:
        raise ValidationError(gettext("started_at lies more than %(days)d days back.")
                              % {"days": MAX_AGE.days}, field="started_at")
    crs = check_crs(crs)
    grid, track = None, []
    if lng is not None or lat is not None:
        if lng is None or lat is None:
            raise ValidationError(gettext("Give both lng and lat, or neither."),
                                  field="lat" if lat is None else "lng")
        lng_w, lat_w, grid, _region = locate_point(lng=lng, lat=lat, crs=crs, scope=scope)
        track = [[_key(started), round(lng_w, DIGITS), round(lat_w, DIGITS), None]]
    patrol = Patrol(id=id, worker=actor, grid=grid,
                    path=grid.path if grid is not None else scope.paths[0],
                    started_at=started, track=track, created_at=now)
    _refigure(patrol)
    try:
        with transaction.atomic():
            patrol.save(force_insert=True)
    except IntegrityError:
        found = _replay_start(actor, id)  # the same start, sent twice at once
        if found is None:
            raise
        return found, False
    return patrol, True


# ---------------------------------------------------------------- points

def patrol_points(*, actor: User, patrol_id: uuid.UUID, points: Sequence[Mapping],
                  crs: str = "wgs84") -> Patrol:
    """Add positions ``{"at", "lng", "lat", "accuracy"}`` to the track. A
    point at an instant already stored is skipped (a batch sent again adds
    nothing); each must lie within the patrol, which may be stopped already:
    an offline phone sends its points late."""
    if len(points) > MAX_POINTS_PER_REQUEST:
        raise ValidationError(gettext("At most %(n)d points may be sent at once.")
                              % {"n": MAX_POINTS_PER_REQUEST}, field="points")
    crs = check_crs(crs)
    now = timezone.now()
    with transaction.atomic():
        patrol = _own(actor, patrol_id)
        rows: list[tuple[str, float, float, float | None]] = []
        for i, point in enumerate(points):
            field = f"points[{i}]."
            at = _instant(point.get("at"), f"{field}at", now=now, not_before=patrol.started_at,
                          not_after=patrol.ended_at)
            accuracy = point.get("accuracy")
            if accuracy is not None and not (isinstance(accuracy, int | float)
                                             and 0 <= accuracy < 1e7):
                raise ValidationError(gettext("accuracy must be a number of metres, 0 or more."),
                                      field=f"{field}accuracy")
            try:
                lng, lat = check_lng_lat(point.get("lng"), point.get("lat"))
            except ValidationError as exc:
                raise ValidationError(exc.message, field=f"{field}{exc.field}") from None
            rows.append((_key(at), lng, lat, None if accuracy is None else round(accuracy, 1)))
        if not rows:
            return patrol
        lngs, lats = to_wgs84(np.array([r[1] for r in rows]), np.array([r[2] for r in rows]),
                              crs)
        stored = {p[0] for p in patrol.track}
        new = {}
        for (key, _lng, _lat, accuracy), lng_w, lat_w in zip(rows, lngs, lats, strict=True):
            if key not in stored and key not in new:
                new[key] = [key, round(float(lng_w), DIGITS), round(float(lat_w), DIGITS),
                            accuracy]
        if not new:
            return patrol
        if len(patrol.track) + len(new) > MAX_POINTS:
            raise ValidationError(gettext("A patrol keeps at most %(n)d points: stop this one "
                                          "and start another.") % {"n": MAX_POINTS},
                                  field="points", code="too_many_points")
        patrol.track = sorted([*patrol.track, *new.values()], key=lambda p: p[0])
        if patrol.grid_id is None:
            _place(actor, patrol, sorted(new.values(), key=lambda p: p[0]))
        _refigure(patrol)
        patrol.save(update_fields=["track", "distance_m", "duration_s", "point_count", "grid",
                                   "path"])
    return patrol


def _place(actor: User, patrol: Patrol, points: list[list]) -> None:
    """A patrol started without a position lies where its first point inside
    the worker's grids lies."""
    grid_ids = Scope.for_user(actor).grid_ids or frozenset()
    index = get_index()
    hits, _regions = index.locate_many([p[1] for p in points], [p[2] for p in points])
    for hit in hits:
        if hit >= 0 and index.grids.nodes[hit].id in grid_ids:
            grid = index.grid(index.grids.nodes[hit].id)
            patrol.grid, patrol.path = grid, grid.path
            return


# ---------------------------------------------------------------- check-ins

def _replay_checkin(actor: User, patrol_id: uuid.UUID, checkin_id: uuid.UUID) -> CheckIn | None:
    found = CheckIn.objects.select_related("patrol").filter(pk=checkin_id).first()
    if found is not None and (found.patrol.worker_id != actor.pk
                              or found.patrol_id != patrol_id):
        raise Conflict(gettext("This check-in id is already in use: send the check-in with a "
                               "new id."), field="id")
    return found


def patrol_checkin(*, actor: User, patrol_id: uuid.UUID, id: uuid.UUID, at: dt.datetime,
                   lng=None, lat=None, crs: str = "wgs84", note: str = "",
                   photos: Sequence[UploadedFile] = ()) -> tuple[CheckIn, bool]:
    """A check-in (打卡) named ``id`` by the phone, with a note and photos;
    (the check-in, created). The same id again answers the one stored."""
    _own(actor, patrol_id, lock=False)  # not found before anything else is said
    found = _replay_checkin(actor, patrol_id, id)
    if found is not None:
        return found, False
    check_length("note", note, MAX_NOTE, gettext_lazy("Note"))
    checked = check_photos(photos)
    point = _lng_lat(lng, lat, check_crs(crs))
    location = get_index().locate(*point) if point else None
    now = timezone.now()
    try:
        with transaction.atomic():
            patrol = _own(actor, patrol_id)
            when = _instant(at, "at", now=now, not_before=patrol.started_at,
                            not_after=patrol.ended_at)
            checkin = CheckIn.objects.create(
                id=id, patrol=patrol, at=when, lng=point[0] if point else None,
                lat=point[1] if point else None, note=note or "", created_at=now,
                grid_id=location.grid.id if location and location.grid else None)
            for upload, content_type, ext, sha in checked:
                photo = CheckInPhoto(checkin=checkin, content_type=content_type,
                                     size=upload.size, sha256=sha,
                                     name=(upload.name or "")[:200])
                photo.file.save(f"{sha[:32]}.{ext}", upload, save=False)
                photo.save()
    except IntegrityError:
        found = _replay_checkin(actor, patrol_id, id)  # sent twice at once
        if found is None:
            raise
        return found, False
    return checkin, True


# ---------------------------------------------------------------- stop

def patrol_stop(*, actor: User, patrol_id: uuid.UUID, ended_at: dt.datetime) -> Patrol:
    """Stop the patrol at ``ended_at``. Stopping it again, at any time,
    answers it as it is."""
    now = timezone.now()
    with transaction.atomic():
        patrol = _own(actor, patrol_id)
        if patrol.ended_at is not None:
            return patrol
        patrol.ended_at = _instant(ended_at, "ended_at", now=now, not_before=patrol.started_at)
        _refigure(patrol)
        patrol.save(update_fields=["ended_at", "duration_s"])
    return patrol
