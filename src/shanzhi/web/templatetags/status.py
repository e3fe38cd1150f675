"""What the pages say about the system's own state: the demo's progress."""

from __future__ import annotations

from django import template

register = template.Library()


@register.simple_tag
def demo_banner() -> str | None:
    """The banner's text while the demo's history is being built, else None."""
    from shanzhi.web.views import demo_banner as text

    return text()
