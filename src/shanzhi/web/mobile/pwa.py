"""What makes ``/m/`` an installable app: the web manifest, the service
worker and the offline page.

The service worker is served from ``/m/sw.js`` (not ``/static/``) so that its
scope is the app without a ``Service-Worker-Allowed`` header. Its text is
``static/m/sw.js`` with two values put in: the version, a hash of every file
under ``static/m/`` (a deploy that changes one of them installs a new worker,
which drops the old caches), and the list of what to precache.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from django.contrib.staticfiles import finders
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.templatetags.static import static
from django.urls import reverse
from django.utils.translation import gettext as _

from . import outbox_messages

#: The app's brand colours: the header's blue, the mark's red.
THEME_COLOUR = "#b02a2a"
BACKGROUND_COLOUR = "#eef1f4"
#: The static folder whose every file is the app shell.
SHELL_FOLDER = "m"


def manifest(request: HttpRequest) -> JsonResponse:
    """The web manifest: what the phone's home screen shows and opens."""
    icons = [{"src": static(f"m/icon-{size}.png"), "sizes": f"{size}x{size}",
              "type": "image/png", "purpose": purpose}
             for size in (192, 512) for purpose in ("any", "maskable")]
    data = {
        "name": _("Grid link · shanzhi"),
        "short_name": _("Grid link"),
        "description": _("Report, verify and patrol from the street, with or without network."),
        "lang": "zh-CN",
        "start_url": reverse("web:m_home"),
        "scope": reverse("web:m_home"),
        "id": reverse("web:m_home"),
        "display": "standalone",
        "orientation": "portrait",
        "theme_color": THEME_COLOUR,
        "background_color": BACKGROUND_COLOUR,
        "icons": icons,
    }
    response = JsonResponse(data, content_type="application/manifest+json",
                            json_dumps_params={"ensure_ascii": False})
    response["Cache-Control"] = "no-cache"
    return response


def _shell_files() -> list[Path]:
    """Every file of ``static/m/`` (the first folder that holds it wins, as
    for ``collectstatic``), sorted."""
    folder = finders.find(SHELL_FOLDER)
    if not folder:
        return []
    root = Path(folder)
    return sorted(p for p in root.rglob("*") if p.is_file() and not p.name.startswith("."))


def shell() -> tuple[str, list[str]]:
    """The shell's version (a hash of the files' names and contents) and the
    addresses to precache."""
    files = _shell_files()
    root = Path(finders.find(SHELL_FOLDER) or ".")
    digest = hashlib.sha256()
    urls = []
    for path in files:
        name = path.relative_to(root).as_posix()
        digest.update(name.encode())
        digest.update(path.read_bytes())
        if name != "sw.js":  # the worker is not a page resource
            urls.append(static(f"{SHELL_FOLDER}/{name}"))
    return digest.hexdigest()[:12], urls


def service_worker(request: HttpRequest) -> HttpResponse:
    """``/m/sw.js``: the worker's script with the shell's version and files."""
    path = finders.find(f"{SHELL_FOLDER}/sw.js")
    version, urls = shell()
    config = {
        "version": version,
        "shell": urls,
        "offline": reverse("web:m_offline"),
        # pages warmed at install (when reachable): the day, the report form and
        # the patrol work offline at once, even if not opened before
        "warm": [reverse("web:m_home"), reverse("web:m_report"), reverse("web:m_outbox"),
                 reverse("web:m_patrol")],
        # pages served from the cache at once and refreshed behind (forms, no live data)
        "swr": [reverse("web:m_report"), reverse("web:m_outbox")],
        "scope": reverse("web:m_home"),
        "networkFirst": [reverse("web:m_grids"), "/api/v1/categories"],
    }
    text = Path(path).read_text(encoding="utf-8") if path else ""
    text = text.replace("self.SHANZHI_CONFIG", json.dumps(config), 1)
    response = HttpResponse(text, content_type="application/javascript; charset=utf-8")
    response["Cache-Control"] = "no-cache"
    return response


def offline(request: HttpRequest) -> HttpResponse:
    """What the worker sees when a page was never cached and there is no
    network (precached by the service worker; no user data in it)."""
    return render(request, "web/m/offline.html", {"app_name": _("Grid link"),
                                                  "m_outbox_messages": outbox_messages()})
