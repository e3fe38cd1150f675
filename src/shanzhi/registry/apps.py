from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RegistryConfig(AppConfig):
    name = "shanzhi.registry"
    label = "registry"
    default_auto_field = "django.db.models.BigAutoField"
    verbose_name = _("Grid base data")

    def ready(self) -> None:
        from shanzhi.cases.registry import register

        from .case import VISIT_CASE

        register(VISIT_CASE)
