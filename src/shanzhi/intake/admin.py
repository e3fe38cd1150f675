"""Admin of the gazetteer: a city corrects a name, adds an alias, fixes a
point here (whole files go through ``shanzhi places import``). Every change
is checked like a feature of an imported file and tells the resolvers of
every process to reload (``places.changed``)."""

from __future__ import annotations

from django import forms
from django.contrib import admin

from . import gazetteer, places
from .models import PlaceName

#: The form's field a problem of ``gazetteer._check`` belongs to.
_FIELDS = {"properties.name": "name", "properties.kind": "kind",
           "properties.aliases": "aliases", "geometry": "geometry"}

class PlaceNameForm(forms.ModelForm):
    class Meta:
        model = PlaceName
        fields = ["name", "kind", "aliases", "geometry", "region", "source"]

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        feature = {"type": "Feature", "geometry": data.get("geometry"),
                   "properties": {"name": data.get("name"), "kind": data.get("kind"),
                                  "aliases": data.get("aliases") or []}}
        problems: list[gazetteer.Problem] = []
        row = gazetteer._check(1, feature, "wgs84", {}, problems)
        for problem in problems:
            self.add_error(_FIELDS.get(problem.field), problem.message)
        if row is not None:
            data["aliases"] = row.aliases
            self.row = row
        return data

@admin.register(PlaceName)
class PlaceNameAdmin(admin.ModelAdmin):
    form = PlaceNameForm
    list_display = ("name", "kind", "region", "lng", "lat", "source")
    list_filter = ("kind", "source")
    search_fields = ("name",)
    readonly_fields = ("lng", "lat", "min_lng", "min_lat", "max_lng", "max_lat")
    raw_id_fields = ("region",)

    def save_model(self, request, obj: PlaceName, form, change) -> None:
        geometry = form.row.geometry
        obj.lng, obj.lat = (round(v, 7) for v in places._middle(geometry))
        obj.min_lng, obj.min_lat, obj.max_lng, obj.max_lat = geometry.bounds
        super().save_model(request, obj, form, change)
        places.changed()

    def delete_model(self, request, obj) -> None:
        super().delete_model(request, obj)
        places.changed()

    def delete_queryset(self, request, queryset) -> None:
        super().delete_queryset(request, queryset)
        places.changed()
