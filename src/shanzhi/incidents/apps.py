from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class IncidentsConfig(AppConfig):
    name = "shanzhi.incidents"
    label = "incidents"
    default_auto_field = "django.db.models.BigAutoField"
    verbose_name = _("Incidents")
