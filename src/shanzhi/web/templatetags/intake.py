"""Whether a user may open the intake form (新建事件): for the links to it."""

from __future__ import annotations

from django import template

from shanzhi.web.intake import may_report as _may_report

register = template.Library()


@register.filter
def may_report(user) -> bool:
    return user.is_authenticated and _may_report(user)


@register.simple_tag
def photo_limits() -> dict:
    """What one request may carry, for the photo pickers' check before sending
    (the service checks again: incidents.services._check_photos)."""
    from django.conf import settings

    from shanzhi.incidents.services import MAX_PHOTO_BYTES

    mb = 1024 * 1024
    return {"file_bytes": MAX_PHOTO_BYTES, "file_mb": MAX_PHOTO_BYTES // mb,
            "total_bytes": settings.UPLOAD_MAX_BYTES, "total_mb": settings.UPLOAD_MAX_BYTES // mb,
            "files": settings.UPLOAD_MAX_FILES}
