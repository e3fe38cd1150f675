"""Admin: categories and their versioned rules, routing rules, devices, and
read-only incidents, timelines and notifications."""

from django import forms
from django.contrib import admin

from shanzhi.core.errors import ValidationError

from .categories import category_rules_create, check_rules
from .models import (
    Category,
    CategoryRules,
    Device,
    Incident,
    IncidentStage,
    RoutingRule,
    TimelineEntry,
)


class RulesInline(admin.TabularInline):
    model = CategoryRules
    fields = ["number", "limits", "departments", "on_overdue", "created_at", "created_by"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "parent", "kind", "is_active", "publication"]
    list_editable = ["publication"]  # the Open311 publication policy (docs/open311.md)
    list_filter = ["kind", "is_active", "publication", "parent"]
    search_fields = ["code", "name"]
    inlines = [RulesInline]


class RulesForm(forms.ModelForm):
    class Meta:
        model = CategoryRules
        fields = ["category", "limits", "departments", "urgencies", "extra_fields", "on_overdue"]

    def clean(self):
        data = super().clean()
        try:
            check_rules(limits=data.get("limits") or {}, departments=data.get("departments") or {},
                        urgencies=data.get("urgencies") or [],
                        extra_fields=data.get("extra_fields") or [],
                        on_overdue=data.get("on_overdue") or "")
        except ValidationError as exc:
            raise forms.ValidationError({exc.field or "limits": exc.message}) from None
        return data


@admin.register(CategoryRules)
class CategoryRulesAdmin(admin.ModelAdmin):
    """Rules are never edited in place: "add" starts from the latest version
    of the chosen category and saves a new version."""

    form = RulesForm
    list_display = ["category", "number", "on_overdue", "created_at", "created_by"]
    list_filter = ["on_overdue"]
    search_fields = ["category__code", "category__name"]
    autocomplete_fields = ["category"]

    def has_change_permission(self, request, obj=None) -> bool:
        return obj is None and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def get_changeform_initial_data(self, request):
        initial = super().get_changeform_initial_data(request)
        category = Category.objects.filter(pk=request.GET.get("category")).first()
        latest = category.current_rules if category else None
        if latest is not None:
            initial.update(limits=latest.limits, departments=latest.departments,
                           urgencies=latest.urgencies, extra_fields=latest.extra_fields,
                           on_overdue=latest.on_overdue)
        return initial

    def save_model(self, request, obj, form, change):
        saved = category_rules_create(
            actor=request.user, category=obj.category, limits=obj.limits,
            departments=obj.departments, urgencies=obj.urgencies,
            extra_fields=obj.extra_fields, on_overdue=obj.on_overdue)
        obj.pk, obj.number, obj.created_at = saved.pk, saved.number, saved.created_at


@admin.register(RoutingRule)
class RoutingRuleAdmin(admin.ModelAdmin):
    list_display = ["category", "region", "department", "note"]
    autocomplete_fields = ["category", "region", "department"]
    search_fields = ["category__code", "region__code", "department__code"]


@admin.register(Device)
class DeviceAdmin(admin.ModelAdmin):
    list_display = ["device_id", "name", "channel", "category", "is_active"]
    list_filter = ["channel", "is_active"]
    search_fields = ["device_id", "name"]
    exclude = ["token_hash"]

    def has_add_permission(self, request) -> bool:
        return False  # `shanzhi device create` prints the token once


class ReadOnlyAdmin(admin.ModelAdmin):
    """The timeline is append-only and incidents change only through services."""

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class TimelineInline(admin.TabularInline):
    model = TimelineEntry
    fields = ["at", "action", "actor", "from_state", "to_state", "data"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False


class StageInline(TimelineInline):
    model = IncidentStage
    fields = ["stage", "started_at", "warn_at", "due_at", "ended_at", "overdue", "amount",
              "unit"]
    readonly_fields = fields


@admin.register(Incident)
class IncidentAdmin(ReadOnlyAdmin):
    list_display = ["number", "state", "channel", "category", "holder", "department",
                    "reported_at", "due_at", "overdue"]
    list_filter = ["state", "channel", "overdue", "category__parent"]
    search_fields = ["number", "description"]
    date_hierarchy = "reported_at"
    exclude = ["contact_name", "contact_phone"]  # personal data: only through the logged API
    inlines = [StageInline, TimelineInline]
    list_select_related = ["category", "holder", "department"]
    show_full_result_count = False

