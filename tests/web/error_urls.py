"""The project's addresses, the project's error handlers, and two views that
fail: a page and an API address (for the 500 tests in test_error_pages.py)."""

from django.urls import path

from shanzhi.urls import handler400, handler403, handler404, handler500  # noqa: F401
from shanzhi.urls import urlpatterns as project


def fail(request):
    raise RuntimeError("a bug")


urlpatterns = [path("api/v1/boom", fail), path("open311/v2/boom.json", fail),
               path("boom/", fail), *project]
