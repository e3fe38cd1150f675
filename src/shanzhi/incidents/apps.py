from django.apps import AppConfig
from django.db.models.signals import post_save
from django.utils.translation import gettext_lazy as _


class IncidentsConfig(AppConfig):
    name = "shanzhi.incidents"
    label = "incidents"
    default_auto_field = "django.db.models.BigAutoField"
    verbose_name = _("Incidents")

    def ready(self) -> None:
        from shanzhi.cases.registry import register

        from . import rulebook
        from .case import INCIDENT_CASE
        from .feed import timeline_written

        register(INCIDENT_CASE)
        rulebook.connect()

        # every timeline row written wakes the live feed (docs/feed.md)
        post_save.connect(timeline_written, sender="incidents.TimelineEntry",
                          dispatch_uid="shanzhi.incidents.feed")

        # the worker retrains the city's category model once a day (docs/intake.md)
        from shanzhi.cases import hooks

        from .learning import on_sweeping

        hooks.sweeping.connect(on_sweeping, dispatch_uid="incidents.learning")
