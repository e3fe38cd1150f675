from django.conf import settings
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from . import throttle, twofactor
from .models import ApiToken, Department, GridWorker, User
from .services import tokens_revoke


def _log_in_through_our_page(request, extra_context=None):
    """The admin logs in through ``/login/`` like everyone else: the same
    throttle, lockout and second factor."""
    if request.user.is_authenticated:  # logged in, but not staff: no loop back to /login/
        raise PermissionDenied
    return redirect_to_login(request.GET.get("next") or reverse("admin:index"),
                             settings.LOGIN_URL)


admin.site.login = _log_in_through_our_page


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    list_display = ["username", "display_name", "role", "region", "department", "is_active"]
    list_filter = ["role", "is_active", "is_staff"]
    search_fields = ["username", "display_name"]
    autocomplete_fields = ["region", "department"]
    fieldsets = [
        *DjangoUserAdmin.fieldsets,
        (_("Role and territory"), {"fields": ["display_name", "role", "region", "department"]}),
    ]
    add_fieldsets = [
        *DjangoUserAdmin.add_fieldsets,
        (_("Role and territory"), {"fields": ["display_name", "role", "region", "department"]}),
    ]
    actions = ["unlock", "reset_two_factor"]

    @admin.action(description=_("Lift the log-in lock of the selected users"))
    def unlock(self, request, queryset) -> None:
        count = throttle.login_unlock(actor=request.user, request=request, users=queryset)
        self.message_user(request, ngettext("%(count)d account unlocked.",
                                            "%(count)d accounts unlocked.", count)
                          % {"count": count}, messages.SUCCESS)

    @admin.action(description=_("Reset the second factor of the selected users"))
    def reset_two_factor(self, request, queryset) -> None:
        count = twofactor.two_factor_reset(actor=request.user, request=request, users=queryset)
        self.message_user(request, ngettext("%(count)d second factor reset.",
                                            "%(count)d second factors reset.", count)
                          % {"count": count}, messages.SUCCESS)


@admin.register(Department)
class DepartmentAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "kind", "region"]
    list_filter = ["kind"]
    search_fields = ["code", "name"]
    autocomplete_fields = ["region"]


@admin.register(GridWorker)
class GridWorkerAdmin(admin.ModelAdmin):
    list_display = ["user", "kind"]
    list_filter = ["kind"]
    search_fields = ["user__username", "user__display_name", "grids__code"]
    autocomplete_fields = ["user", "grids"]


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ["hint", "user", "name", "created_at", "expires_at", "last_used_at",
                    "revoked_at"]
    list_filter = [("revoked_at", admin.EmptyFieldListFilter)]
    search_fields = ["user__username", "name", "hint"]
    readonly_fields = ["hint", "created_at", "expires_at", "last_used_at", "revoked_at"]
    fields = ["user", "name", "hint", "created_at", "expires_at", "last_used_at", "revoked_at"]
    actions = ["revoke"]

    def has_add_permission(self, request) -> bool:
        return False  # tokens are issued by `shanzhi token create`, which shows the key once

    @admin.action(description=_("Revoke the selected tokens"))
    def revoke(self, request, queryset) -> None:
        tokens_revoke(queryset)
