"""The gazetteer (地名库): the names of roads, landmarks and areas the city
holds, with their geometry, that an address typed at intake is resolved
against (``intake.places``) when no standard address (registry house) fits."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class PlaceName(models.Model):
    """A road (a line), a landmark (a point) or an area (a polygon) by name."""

    class Kind(models.TextChoices):
        ROAD = "road", _("road")
        LANDMARK = "landmark", _("landmark")
        AREA = "area", _("area")

    name = models.CharField(_("name"), max_length=100)
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    #: other names people use (老地名, abbreviations), as a list of strings
    aliases = models.JSONField(_("aliases"), default=list, blank=True)
    #: GeoJSON geometry in WGS-84 (LineString/MultiLineString, Point, Polygon)
    geometry = models.JSONField(_("geometry"))
    # a representative point and the bounding box, for quick filters
    lng = models.FloatField(_("longitude (WGS-84)"))
    lat = models.FloatField(_("latitude (WGS-84)"))
    min_lng = models.FloatField()
    min_lat = models.FloatField()
    max_lng = models.FloatField()
    max_lat = models.FloatField()
    #: the district (or lower region) the name belongs to, when names repeat
    #: across a city (there is a 人民路 in several districts)
    region = models.ForeignKey("geo.Region", verbose_name=_("region"), null=True, blank=True,
                               on_delete=models.SET_NULL, related_name="+")
    source = models.CharField(_("source"), max_length=100, blank=True)

    class Meta:
        verbose_name = _("place name")
        verbose_name_plural = _("place names")
        ordering = ["name", "id"]
        indexes = [models.Index(fields=["name"], name="placename_name")]

    def __str__(self) -> str:
        return self.name
