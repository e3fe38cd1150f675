from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AnalyticsConfig(AppConfig):
    name = "shanzhi.analytics"
    label = "analytics"
    default_auto_field = "django.db.models.BigAutoField"
    verbose_name = _("Analytics")

    def ready(self) -> None:
        from shanzhi.cases import hooks
        from shanzhi.incidents.models import Incident

        from . import rollups

        # the rollups follow every change of an incident, in its transaction
        hooks.created.connect(rollups.on_created, sender=Incident,
                              dispatch_uid="shanzhi.analytics.created")
        hooks.changing.connect(rollups.on_changing, sender=Incident,
                               dispatch_uid="shanzhi.analytics.changing")
        hooks.lights_changed.connect(rollups.on_lights_changed, sender=Incident,
                                     dispatch_uid="shanzhi.analytics.lights")
