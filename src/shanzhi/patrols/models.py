"""Patrols (巡查): a record of a grid worker's walk, not a case — no workflow,
no deadline of its own. The phone names each patrol and check-in with a UUID
so that what was started offline keeps its identity when it is sent later
(docs/patrols.md)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from shanzhi.cases.models import Attachment
from shanzhi.geo.models import Grid


class Patrol(models.Model):
    """One walk. The track is one JSON list per patrol, not a row per point:
    ``[[iso time (UTC), lng, lat, accuracy in m or null], …]`` in WGS-84,
    sorted by time, one point per instant."""

    id = models.UUIDField(primary_key=True, editable=False)
    #: (users are switched off, not deleted; grids retired, not deleted: the
    #: deletions below happen only to test and demo data)
    worker = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("grid worker"),
                               on_delete=models.CASCADE, related_name="patrols")
    #: Where it started (or, without a start point, where its first point lay
    #: inside the worker's grids); null until then.
    grid = models.ForeignKey(Grid, verbose_name=_("grid"), null=True, blank=True,
                             on_delete=models.SET_NULL, related_name="patrols", db_index=False)
    #: The region path of that grid's community: what the scope filters on.
    path = models.CharField(max_length=255, editable=False)
    started_at = models.DateTimeField(_("started at"))
    ended_at = models.DateTimeField(_("ended at"), null=True, blank=True)
    distance_m = models.FloatField(_("distance (m)"), default=0)
    duration_s = models.PositiveIntegerField(_("duration (s)"), default=0)
    track = models.JSONField(_("track"), default=list, blank=True)
    #: len(track), kept so that a list need not read the tracks.
    point_count = models.PositiveIntegerField(_("points"), default=0)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("patrol")
        verbose_name_plural = _("patrols")
        ordering = ["-started_at"]
        indexes = [
            # the day log of a territory: path LIKE 'prefix%' and a day's span
            models.Index(fields=["path", "started_at"], name="patrol_path_day",
                         opclasses=["varchar_pattern_ops", ""]),
            # a worker's own patrols (the phone, the figures)
            models.Index(fields=["worker", "started_at"], name="patrol_worker_day"),
            # what is due: a grid patrolled today
            models.Index(fields=["grid", "started_at"], name="patrol_grid_day"),
        ]

    def __str__(self) -> str:
        return f"{self.worker_id} {self.started_at:%Y-%m-%d %H:%M}"

    @property
    def running(self) -> bool:
        return self.ended_at is None


class CheckIn(models.Model):
    """A stop on the walk (打卡): where, when, a note and photos."""

    id = models.UUIDField(primary_key=True, editable=False)
    patrol = models.ForeignKey(Patrol, verbose_name=_("patrol"), on_delete=models.CASCADE,
                               related_name="checkins")
    at = models.DateTimeField(_("at"))
    lng = models.FloatField(_("longitude (WGS-84)"), null=True, blank=True)
    lat = models.FloatField(_("latitude (WGS-84)"), null=True, blank=True)
    grid = models.ForeignKey(Grid, verbose_name=_("grid"), null=True, blank=True,
                             on_delete=models.SET_NULL, related_name="+", db_index=False)
    note = models.TextField(_("note"), blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("check-in")
        verbose_name_plural = _("check-ins")
        ordering = ["patrol", "at", "id"]

    def __str__(self) -> str:
        return f"{self.patrol_id} {self.at:%H:%M}"


class CheckInPhoto(Attachment):
    """A photo of a check-in, stored cleaned (``cases.engine.check_photos``)."""

    checkin = models.ForeignKey(CheckIn, on_delete=models.CASCADE, related_name="photos")
    file = models.FileField(upload_to="patrols/%Y/%m/")

    class Meta(Attachment.Meta):
        ordering = ["checkin", "id"]
