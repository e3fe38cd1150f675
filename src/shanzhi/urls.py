from django.conf import settings
from django.conf.urls.static import static
from django.contrib import admin
from django.urls import include, path
from django.utils.translation import gettext_lazy as _

from shanzhi.api.main import api
from shanzhi.incidents import feed

admin.site.site_header = _("shanzhi administration")
admin.site.site_title = _("shanzhi")
admin.site.index_title = _("Territory, users and departments")

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/feed", feed.stream, name="feed"),  # Server-Sent Events, docs/feed.md
    path("api/v1/", api.urls),
    path("open311/v2/", include("shanzhi.open311.urls")),  # GeoReport v2, docs/open311.md
    path("i18n/", include("django.conf.urls.i18n")),
    path("", include("shanzhi.web.urls")),
]
if settings.DEBUG:
    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)

# The error pages in the site's words; JSON / GeoReport under /api/ and /open311/ (web/errors.py)
handler400 = "shanzhi.web.errors.bad_request"
handler403 = "shanzhi.web.errors.permission_denied"
handler404 = "shanzhi.web.errors.page_not_found"
handler500 = "shanzhi.web.errors.server_error"
