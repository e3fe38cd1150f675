from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RegistryConfig(AppConfig):
    name = "shanzhi.registry"
    label = "registry"
    default_auto_field = "django.db.models.BigAutoField"
    verbose_name = _("Grid base data")

    def ready(self) -> None:
        from shanzhi.cases import hooks
        from shanzhi.cases.registry import register

        from .case import VISIT_CASE
        from .visits import on_sweeping

        register(VISIT_CASE)
        hooks.sweeping.connect(on_sweeping, dispatch_uid="registry.plan_due")
