from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MediationConfig(AppConfig):
    name = "shanzhi.mediation"
    label = "mediation"
    default_auto_field = "django.db.models.BigAutoField"
    verbose_name = _("Dispute mediation")

    def ready(self) -> None:
        from shanzhi.cases.registry import register

        from .case import MEDIATION_CASE

        register(MEDIATION_CASE)
