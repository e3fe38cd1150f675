"""The territorial tree (city → district → town → community) and the grids.

Geometries are stored as WKB in WGS-84 (lon/lat); shapely reads them. Each node
carries a validity period because codes change (苏州工业园区 was 320571 and is
320576 in the 2023 codes): only one *current* node (``valid_to`` empty) may hold
a code, older ones stay for history.
"""

from __future__ import annotations

import uuid

import shapely
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _


class Level(models.TextChoices):
    CITY = "city", _("City")
    DISTRICT = "district", _("District")
    TOWN = "town", _("Town/street")
    COMMUNITY = "community", _("Community/village")
    GRID = "grid", _("Grid")


#: Region levels from the top down; grids hang below the last one.
REGION_LEVELS = [Level.CITY, Level.DISTRICT, Level.TOWN, Level.COMMUNITY]


class TerritoryQuerySet(models.QuerySet):
    def current(self):
        return self.filter(valid_to__isnull=True)


class TerritoryNode(models.Model):
    code = models.CharField(_("code"), max_length=32, db_index=True)
    name = models.CharField(_("name"), max_length=100)
    #: Region ids from the root down: "/1/12/140/". A region's path ends with
    #: its own id; a grid's path is its community's. Scope filters by prefix.
    path = models.CharField(_("path"), max_length=255, db_index=True, editable=False)
    geometry = models.BinaryField(_("geometry (WKB, WGS-84)"), null=True, blank=True)
    valid_from = models.DateField(_("valid from"), null=True, blank=True)
    valid_to = models.DateField(_("valid to"), null=True, blank=True,
                                help_text=_("Empty while the code is in force."))
    generated = models.BooleanField(
        _("generated boundary"), default=False,
        help_text=_("The boundary was synthesised (demo data), not surveyed."))
    source = models.CharField(_("source"), max_length=200, blank=True)

    objects = TerritoryQuerySet.as_manager()

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return f"{self.code} {self.name}"

    @property
    def shape(self) -> shapely.Geometry | None:
        return shapely.from_wkb(bytes(self.geometry)) if self.geometry else None

    @property
    def ancestor_ids(self) -> list[int]:
        return [int(part) for part in self.path.strip("/").split("/") if part]


class Region(TerritoryNode):
    level = models.CharField(_("level"), max_length=16, choices=Level.choices[:4])
    parent = models.ForeignKey("self", verbose_name=_("parent"), null=True, blank=True,
                               on_delete=models.PROTECT, related_name="children")

    class Meta:
        verbose_name = _("region")
        verbose_name_plural = _("regions")
        ordering = ["path"]
        constraints = [
            models.UniqueConstraint(fields=["code"], condition=Q(valid_to__isnull=True),
                                    name="region_current_code_unique"),
            models.UniqueConstraint(fields=["code", "valid_from"],
                                    name="region_code_period_unique"),
            models.CheckConstraint(condition=Q(valid_to__isnull=True) | Q(valid_from__isnull=True)
                                   | Q(valid_to__gt=F("valid_from")), name="region_period_ordered"),
        ]


class Grid(TerritoryNode):
    level = Level.GRID
    community = models.ForeignKey(Region, verbose_name=_("community"), on_delete=models.PROTECT,
                                  related_name="grids")

    class Meta:
        verbose_name = _("grid")
        verbose_name_plural = _("grids")
        ordering = ["code"]
        constraints = [
            models.UniqueConstraint(fields=["code"], condition=Q(valid_to__isnull=True),
                                    name="grid_current_code_unique"),
            models.UniqueConstraint(fields=["code", "valid_from"],
                                    name="grid_code_period_unique"),
        ]


def _new_token() -> str:
    return uuid.uuid4().hex


class TerritoryRevision(models.Model):
    """One row whose number goes up in the same transaction as any change of
    boundaries; each process rebuilds its spatial index when it sees a new one.
    Its token is drawn once per database, so caches keyed by the stamp never
    mix two databases (a rebuilt demo, a restored backup, a test run)."""

    number = models.PositiveBigIntegerField(default=0)
    token = models.CharField(max_length=32, default=_new_token, editable=False)

    class Meta:
        verbose_name = _("territory revision")

    def __str__(self) -> str:
        return str(self.number)

    @classmethod
    def bump(cls) -> None:
        updated = cls.objects.filter(pk=1).update(number=F("number") + 1)
        if not updated:
            cls.objects.get_or_create(pk=1, defaults={"number": 1})

    @classmethod
    def current(cls) -> str:
        """The stamp of the territory now: "<token>-<number>" ("" before any boundary)."""
        row = cls.objects.filter(pk=1).values_list("token", "number").first()
        return f"{row[0]}-{row[1]}" if row else ""
