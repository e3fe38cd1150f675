"""Admin: patrols read-only (they change only through the services)."""

from django.contrib import admin

from .models import CheckIn, Patrol


class CheckInInline(admin.TabularInline):
    model = CheckIn
    fields = ["at", "lng", "lat", "grid", "note"]
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Patrol)
class PatrolAdmin(admin.ModelAdmin):
    list_display = ["started_at", "worker", "grid", "ended_at", "distance_m", "duration_s"]
    list_select_related = ["worker", "grid"]
    date_hierarchy = "started_at"
    search_fields = ["worker__username", "worker__display_name", "grid__code", "grid__name"]
    exclude = ["track"]
    readonly_fields = ["id", "worker", "grid", "started_at", "ended_at", "distance_m",
                       "duration_s", "created_at"]
    inlines = [CheckInInline]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
