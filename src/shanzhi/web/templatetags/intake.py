"""Whether a user may open the intake form (新建事件): for the links to it."""

from __future__ import annotations

from django import template

from shanzhi.web.intake import may_report as _may_report

register = template.Library()


@register.filter
def may_report(user) -> bool:
    return user.is_authenticated and _may_report(user)
