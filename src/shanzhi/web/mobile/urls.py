"""The phone app's addresses, all under ``/m/`` (names ``m_…``, in the ``web``
namespace: ``web/urls.py`` adds these to its own)."""

from django.urls import path

from . import manager, pwa, visits, worker

urlpatterns = [
    path("m/", worker.home, name="m_home"),
    path("m/manifest.webmanifest", pwa.manifest, name="m_manifest"),
    path("m/sw.js", pwa.service_worker, name="m_sw"),
    path("m/offline/", pwa.offline, name="m_offline"),
    path("m/outbox/", worker.outbox, name="m_outbox"),
    path("m/report/", worker.report, name="m_report"),
    path("m/patrol/", worker.patrol, name="m_patrol"),
    path("m/grids.geojson", worker.grids_geojson, name="m_grids"),
    path("m/incidents/<str:number>/", worker.incident, name="m_incident"),
    path("m/visits/<str:number>/", visits.visit, name="m_visit"),
    path("m/waiting/", manager.todo, name="m_todo"),
    path("m/waiting/<slug:kind>/", manager.waiting_list, name="m_waiting"),
]
