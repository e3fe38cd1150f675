from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PatrolsConfig(AppConfig):
    name = "shanzhi.patrols"
    label = "patrols"
    default_auto_field = "django.db.models.BigAutoField"
    verbose_name = _("Patrols")
