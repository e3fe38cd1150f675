from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DemoConfig(AppConfig):
    name = "shanzhi.demo"
    label = "demo"
    default_auto_field = "django.db.models.BigAutoField"
    verbose_name = _("Demo")
