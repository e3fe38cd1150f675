from django.contrib import admin, messages
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from shanzhi.core.errors import DomainError

from . import services
from .models import ApiKey, ServiceRequest


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ["name", "hint", "jurisdiction", "rate_limit", "answers_with_token",
                    "created_at", "last_used_at", "revoked_at"]
    list_filter = [("revoked_at", admin.EmptyFieldListFilter), "answers_with_token"]
    search_fields = ["name", "hint"]
    readonly_fields = ["hint", "user", "created_at", "last_used_at", "revoked_at"]
    actions = ["revoke"]

    def get_fields(self, request, obj=None):
        editable = ["name", "jurisdiction", "rate_limit", "answers_with_token"]
        if obj is None:
            return editable
        return [*editable, "hint", "user", "created_at", "last_used_at", "revoked_at"]

    def get_readonly_fields(self, request, obj=None):
        return [*self.readonly_fields, "jurisdiction"] if obj else self.readonly_fields

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "jurisdiction":
            from shanzhi.geo.models import Region

            kwargs["queryset"] = (Region.objects.current().filter(parent__isnull=True)
                                  .defer("geometry"))
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_model(self, request, obj, form, change) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        try:
            key, secret = services.key_create(
                name=obj.name, jurisdiction=obj.jurisdiction.code, rate_limit=obj.rate_limit,
                answers_with_token=obj.answers_with_token)
        except DomainError as exc:
            messages.error(request, exc.message)
            return
        obj.pk, obj.user_id, obj.hint = key.pk, key.user_id, key.hint
        obj._state.adding = False
        messages.warning(request, _("The new API key, shown this once: %(key)s")
                         % {"key": secret})

    @admin.action(description=_("Revoke the selected keys"))
    def revoke(self, request, queryset) -> None:
        queryset.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())


@admin.register(ServiceRequest)
class ServiceRequestAdmin(admin.ModelAdmin):
    list_display = ["token", "incident", "key", "created_at"]
    search_fields = ["token", "incident__number"]
    list_filter = ["key"]
    readonly_fields = ["incident", "key", "token", "account_id", "device_id", "email",
                       "address_id", "media_url", "created_at"]

    def has_add_permission(self, request) -> bool:
        return False
