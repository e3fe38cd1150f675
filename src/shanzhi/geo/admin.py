import shapely
from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from .models import Grid, Region


class TerritoryAdmin(admin.ModelAdmin):
    search_fields = ["code", "name"]
    readonly_fields = ["path", "bounds"]
    exclude = ["geometry"]
    list_per_page = 50

    @admin.display(description=_("bounds (WGS-84)"))
    def bounds(self, obj) -> str:
        if not obj.geometry:
            return "—"
        return ", ".join(f"{v:.5f}" for v in shapely.bounds(shapely.from_wkb(bytes(obj.geometry))))


@admin.register(Region)
class RegionAdmin(TerritoryAdmin):
    list_display = ["code", "name", "level", "parent", "valid_from", "valid_to", "generated"]
    list_filter = ["level", "generated", ("valid_to", admin.EmptyFieldListFilter)]
    autocomplete_fields = ["parent"]


@admin.register(Grid)
class GridAdmin(TerritoryAdmin):
    list_display = ["code", "name", "community", "valid_from", "valid_to", "generated"]
    list_filter = ["generated", ("valid_to", admin.EmptyFieldListFilter)]
    autocomplete_fields = ["community"]
