"""Admin: mediation centres and their rosters (edited here), and read-only
mediation cases (they change only through the services)."""

from django.contrib import admin

from .models import Centre, MediationCase, Party, RosterEntry, Session


class RosterInline(admin.TabularInline):
    model = RosterEntry
    fields = ["department", "mode", "weekdays", "starts_on", "ends_on", "note"]
    autocomplete_fields = ["department"]
    extra = 0


@admin.register(Centre)
class CentreAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "region", "phone", "is_active"]
    list_filter = ["is_active"]
    search_fields = ["code", "name"]
    autocomplete_fields = ["region"]
    inlines = [RosterInline]


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


class PartyInline(ReadOnlyInline):
    model = Party
    fields = ["role", "kind", "name", "vulnerable"]  # no identity or phone numbers here


class SessionInline(ReadOnlyInline):
    model = Session
    fields = ["held_at", "place", "participants", "recorded_by"]


@admin.register(MediationCase)
class MediationCaseAdmin(admin.ModelAdmin):
    list_display = ["number", "title", "state", "centre", "dispute_type", "risk_level",
                    "due_at", "overdue"]
    list_filter = ["state", "dispute_type", "risk_level", "source"]
    search_fields = ["number", "title"]
    list_select_related = ["centre"]
    fields = ["number", "state", "centre", "source", "dispute_type", "title", "description",
              "risk_level", "risk_reasons", "outcome", "route", "terms", "agreed_at", "holds",
              "stage", "due_at", "overdue", "version"]
    readonly_fields = fields
    inlines = [PartyInline, SessionInline]

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
