from django.contrib import admin
from django.utils.formats import date_format
from django.utils.translation import gettext_lazy as _

from .models import (
    PUBLISHED_NOTE,
    AccessLog,
    CalendarDay,
    CalendarSource,
    CalendarYear,
    reset_calendar,
)


class CalendarAdmin(admin.ModelAdmin):
    """Both calendar tables: the yearly note on every page; a change here
    reloads this process's calendar at once (others within 30 s)."""

    list_per_page = 100

    def changelist_view(self, request, extra_context=None):
        return super().changelist_view(request, {**(extra_context or {}),
                                                 "subtitle": PUBLISHED_NOTE})

    def save_model(self, request, obj, form, change):
        obj.source = CalendarSource.ADMIN
        super().save_model(request, obj, form, change)
        reset_calendar()

    def delete_model(self, request, obj):
        super().delete_model(request, obj)
        reset_calendar()

    def delete_queryset(self, request, queryset):
        super().delete_queryset(request, queryset)
        reset_calendar()


@admin.register(CalendarDay)
class CalendarDayAdmin(CalendarAdmin):
    list_display = ["date", "weekday", "is_working", "name", "source"]
    list_filter = ["is_working", "source"]
    date_hierarchy = "date"
    search_fields = ["name"]
    readonly_fields = ["source", "updated_at"]
    fieldsets = [(None, {"fields": ["date", "is_working", "name", "source", "updated_at"],
                         "description": PUBLISHED_NOTE})]

    @admin.display(description=_("weekday"))
    def weekday(self, obj: CalendarDay) -> str:
        return date_format(obj.date, "l")


@admin.register(CalendarYear)
class CalendarYearAdmin(CalendarAdmin):
    list_display = ["year", "complete", "source", "note", "updated_at"]
    list_filter = ["complete", "source"]
    readonly_fields = ["source", "updated_at"]
    fieldsets = [(None, {"fields": ["year", "complete", "note", "source", "updated_at"],
                         "description": PUBLISHED_NOTE})]


@admin.register(AccessLog)
class AccessLogAdmin(admin.ModelAdmin):
    """The access log for auditors: searched and filtered, never written here."""

    list_display = ["at", "username", "action", "address", "object_type", "object_id", "fields",
                    "reason"]
    list_filter = ["action", "object_type"]
    date_hierarchy = "at"
    search_fields = ["=username", "=object_id", "=address", "reason"]
    list_select_related = False
    show_full_result_count = False
    fields = ["at", "user", "username", "action", "address", "object_type", "object_id",
              "fields", "reason"]
    readonly_fields = fields

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
