from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    name = "shanzhi.accounts"
    label = "accounts"
    default_auto_field = "django.db.models.BigAutoField"
    verbose_name = _("Users and departments")

    def ready(self) -> None:
        from . import auth, staff

        staff.connect()
        auth.connect()
