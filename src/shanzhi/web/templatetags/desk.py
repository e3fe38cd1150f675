"""Template helpers of the desks: sortable column headers, page links, photo
addresses."""

from __future__ import annotations

from django import template
from django.urls import reverse
from django.utils.html import format_html

from shanzhi.incidents.case import INCIDENT_CASE

register = template.Library()


def _list_link(context, query: str) -> str:
    return f"{reverse(context['list_url'])}?{query}"


@register.simple_tag(takes_context=True)
def sort_header(context, name: str, label: str, css: str = ""):
    """A column header that sorts the list by ``name`` (again: the other way)."""
    form = context["form"]
    current = form.ordering
    if current == name:
        state, new = "ascending", f"-{name}"
    elif current == f"-{name}":
        state, new = "descending", name
    else:
        state, new = "none", name
    href = _list_link(context, form.query(sort=new))
    arrow = {"ascending": "▲", "descending": "▼"}.get(state, "")
    return format_html(
        '<th class="{}" aria-sort="{}"><a class="sort" href="{}" hx-get="{}" '
        'hx-target="#results" hx-swap="outerHTML" hx-push-url="true">{}'
        '<span class="arrow" aria-hidden="true">{}</span></a></th>',
        css, state, href, href, label, arrow)


@register.simple_tag(takes_context=True)
def page_link(context, number: int) -> str:
    """The address of page ``number`` of this list, with its filters."""
    return _list_link(context, context["form"].query(page=number))


@register.simple_tag(takes_context=True)
def list_link(context, **changes) -> str:
    """The address of this list with some filters changed."""
    return _list_link(context, context["form"].query(**changes))


@register.simple_tag(takes_context=True)
def export_link(context) -> str:
    return f"{reverse('web:incidents_export')}?{context['form'].query()}"


@register.filter
def photo_url(attachment, incident) -> str:
    """A photo through the scoped attachment endpoint of the API."""
    return INCIDENT_CASE.attachment_url(incident, attachment)


@register.filter
def field_label(form, name: str) -> str:
    field = form.fields.get(name)
    return str(field.label) if field is not None and field.label else name


@register.filter
def get_value(values, name: str) -> str:
    """``values[name]``, or empty (the values of a form sent back)."""
    if not values:
        return ""
    return values.get(name, "") or ""
