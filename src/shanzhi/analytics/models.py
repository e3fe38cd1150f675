"""Rollups of incidents, kept current by the incident services in the same
transaction (``rollups.py``), so that the command centre never counts every
incident on every request. See ``docs/command-centre.md``.

Region and category are plain ids (no foreign keys): a rollup row is a
counter, written by an upsert on every report and state change, and must not
cost a lookup of its own or hold a lock on another table.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class DayTally(models.Model):
    """The incidents reported on one day (Asia/Shanghai) in one located region,
    and what they are now: a cohort. A late closure adds to the day the
    incident was reported; a reopen takes it away again."""

    day = models.DateField(_("day"))
    region_id = models.BigIntegerField(_("region"))
    #: The region's path: what scope filters on.
    path = models.CharField(max_length=255)
    reported = models.IntegerField(default=0)
    rejected = models.IntegerField(default=0)
    closed = models.IntegerField(default=0)
    #: Closed with no stage past its deadline.
    closed_on_time = models.IntegerField(default=0)
    self_resolved = models.IntegerField(default=0)
    #: With a call-back recorded, and of those satisfied or basically satisfied.
    callbacks = models.IntegerField(default=0)
    satisfied = models.IntegerField(default=0)

    class Meta:
        verbose_name = _("daily tally")
        verbose_name_plural = _("daily tallies")
        constraints = [models.UniqueConstraint(fields=["day", "region_id"],
                                               name="analytics_day_region")]
        # covering: a window's sums are read from the index alone on PostgreSQL
        indexes = [models.Index(fields=["day", "path"], name="analytics_day_path",
                                include=["reported", "rejected", "closed", "closed_on_time",
                                         "self_resolved", "callbacks", "satisfied"])]

    def __str__(self) -> str:
        return f"{self.day} {self.region_id}"


class MixTally(models.Model):
    """Incidents reported on one day in one area, by category and channel.
    Each incident counts twice: at ``depth`` 2 in its district's row (what
    the city's and a district's command centre read) and at ``depth`` 3 in
    its town's (a town's); an incident located higher counts in its own
    region's row at both depths."""

    day = models.DateField(_("day"))
    area_id = models.BigIntegerField(_("area"))
    path = models.CharField(max_length=255)
    #: The area's depth in the region tree: 2 a district, 3 a town.
    depth = models.PositiveSmallIntegerField(default=3)
    #: The category's id, 0 while unclassified.
    category_key = models.BigIntegerField(default=0)
    channel = models.CharField(max_length=16)
    reported = models.IntegerField(default=0)

    class Meta:
        verbose_name = _("category and channel tally")
        verbose_name_plural = _("category and channel tallies")
        constraints = [models.UniqueConstraint(fields=["day", "depth", "area_id", "category_key",
                                                       "channel"],
                                               name="analytics_mix_unique")]
        indexes = [models.Index(fields=["depth", "day", "path"], name="analytics_mix_depth_day",
                                include=["category_key", "channel", "reported"])]

    def __str__(self) -> str:
        return f"{self.day} {self.area_id} {self.category_key} {self.channel}"


class OpenTally(models.Model):
    """Open incidents now, per located region and grid (0: no grid), and of
    those the ones the overdue sweep has marked red (``overdue``) and yellow
    (``warned`` and not ``overdue``). Lights that came on since the last
    sweep are counted live on top (``selectors.open_now``)."""

    region_id = models.BigIntegerField(_("region"))
    grid_key = models.BigIntegerField(default=0)
    path = models.CharField(max_length=255)
    open = models.IntegerField(default=0)
    red = models.IntegerField(default=0)
    yellow = models.IntegerField(default=0)

    class Meta:
        verbose_name = _("open tally")
        verbose_name_plural = _("open tallies")
        constraints = [models.UniqueConstraint(fields=["region_id", "grid_key"],
                                               name="analytics_open_unique")]
        indexes = [models.Index(fields=["path"], name="analytics_open_path")]

    def __str__(self) -> str:
        return f"{self.region_id}/{self.grid_key}: {self.open}"
