from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class WebConfig(AppConfig):
    name = "shanzhi.web"
    label = "web"
    default_auto_field = "django.db.models.BigAutoField"
    verbose_name = _("Pages")
