"""Admin of the registries: follow-up rules are edited here (how a city sets
how often each group is visited); the rest is read for support. People show
masked numbers only: the unmasked ones are read through the registry's
detail page, which writes the access log."""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from shanzhi.core.privacy import mask_id_number, mask_phone

from .models import (
    Building,
    FollowUpRule,
    House,
    Household,
    ImportJob,
    KeyPlace,
    Member,
    Organisation,
    Person,
    PersonChange,
    Visit,
)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Shown, never written here: the services own every change."""

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(FollowUpRule)
class FollowUpRuleAdmin(admin.ModelAdmin):
    list_display = ["group", "level", "interval"]
    list_editable = ["interval"]
    list_filter = ["group", "level"]
    ordering = ["group", "level"]


@admin.register(Building)
class BuildingAdmin(ReadOnlyAdmin):
    list_display = ["address", "grid", "road", "number", "building"]
    list_select_related = ["grid"]
    search_fields = ["=key", "address", "road"]
    exclude = ["path"]


@admin.register(House)
class HouseAdmin(ReadOnlyAdmin):
    list_display = ["address", "grid", "use"]
    list_select_related = ["grid"]
    list_filter = ["use"]
    search_fields = ["=key", "address"]
    exclude = ["path", "owner_phone"]


@admin.register(Household)
class HouseholdAdmin(ReadOnlyAdmin):
    list_display = ["number", "house", "kind", "registered"]
    list_select_related = ["house"]
    search_fields = ["=number"]


class PersonChangeInline(admin.TabularInline):
    model = PersonChange
    fields = ["at", "actor", "action"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Person)
class PersonAdmin(ReadOnlyAdmin):
    list_display = ["name", "masked_id_number", "masked_phone", "kind", "grid", "merged_into"]
    list_select_related = ["grid"]
    list_filter = ["kind", "id_type", "left_behind"]
    search_fields = ["name"]
    show_full_result_count = False
    fields = ["name", "former_name", "id_type", "masked_id_number", "gender", "birth_date",
              "masked_phone", "kind", "left_behind", "grid", "house", "household",
              "permit_expires", "merged_into", "version", "created_at", "updated_at"]
    readonly_fields = fields
    inlines = [PersonChangeInline]

    @admin.display(description=_("identity number"))
    def masked_id_number(self, obj: Person) -> str:
        return mask_id_number(obj.id_number)

    @admin.display(description=_("phone"))
    def masked_phone(self, obj: Person) -> str:
        return mask_phone(obj.phone)


@admin.register(Organisation)
class OrganisationAdmin(ReadOnlyAdmin):
    list_display = ["name", "credit_code", "kind", "grid"]
    list_select_related = ["grid"]
    list_filter = ["kind"]
    search_fields = ["=credit_code", "name"]
    exclude = ["path", "phone"]


@admin.register(Member)
class MemberAdmin(ReadOnlyAdmin):
    list_display = ["person", "group", "level", "since", "ended_on", "grid"]
    list_select_related = ["person", "grid"]
    list_filter = ["group", "level"]
    raw_id_fields = ["person", "worker"]
    exclude = ["path"]


@admin.register(KeyPlace)
class KeyPlaceAdmin(ReadOnlyAdmin):
    list_display = ["name", "kind", "level", "grid", "is_active"]
    list_select_related = ["grid"]
    list_filter = ["kind", "level", "is_active"]
    search_fields = ["name"]
    exclude = ["path", "contact_phone"]


@admin.register(Visit)
class VisitAdmin(ReadOnlyAdmin):
    list_display = ["number", "kind", "state", "grid", "due_at"]
    list_select_related = ["grid"]
    list_filter = ["kind", "state"]
    search_fields = ["=number"]
    fields = ["number", "kind", "state", "grid", "person", "member", "place", "worker",
              "interval", "due_at", "visited_at", "finding", "note"]
    readonly_fields = fields


@admin.register(ImportJob)
class ImportJobAdmin(ReadOnlyAdmin):
    list_display = ["started_at", "registry", "filename", "actor", "state", "written",
                    "error_count"]
    list_filter = ["registry", "state"]
    exclude = ["errors"]
