from django.urls import path

from . import command, desk, incident, intake, mediation, patrols, views
from .mobile import urls as mobile_urls

app_name = "web"
urlpatterns = [
    path("", views.home, name="home"),
    path("map/", views.territory_map, name="map"),
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", views.LogoutView.as_view(), name="logout"),
    path("login/code/", views.login_code, name="login_code"),
    path("account/security/", views.account_security, name="account_security"),
    path("incidents/", desk.case_desk, name="incidents"),
    path("incidents/new/", intake.intake, name="intake"),
    path("incidents/export.xlsx", desk.export, name="incidents_export"),
    path("incidents/<str:number>/", incident.incident_page, name="incident"),
    path("incidents/<str:number>/contact/", incident.incident_contact, name="incident_contact"),
    path("incidents/<str:number>/act/<str:action>/", incident.incident_act,
         name="incident_act"),
    path("desk/", desk.department_desk, name="department_desk"),
    path("command/", command.command_centre, name="command"),
    path("notifications/", views.notifications, name="notifications"),
    path("notifications/read/", views.notifications_read_all, name="notifications_read_all"),
    path("notifications/<int:pk>/", views.notification_open, name="notification"),
    path("notifications/<int:pk>/read/", views.notification_read, name="notification_read"),
    path("demo-progress.json", views.demo_progress, name="demo_progress"),
    path("patrols/", patrols.patrol_log, name="patrols"),
    path("patrols/<uuid:pk>/", patrols.patrol_page, name="patrol"),
    path("mediation/", mediation.case_list, name="mediation"),
    path("mediation/new/", mediation.case_new, name="mediation_new"),
    path("mediation/roster/", mediation.roster, name="mediation_roster"),
    path("mediation/cases/<str:number>/", mediation.case_detail, name="mediation_case"),
    path("mediation/cases/<str:number>/agreement.pdf", mediation.agreement_pdf,
         name="mediation_agreement"),
    path("mediation/cases/<str:number>/act/<str:action>/", mediation.case_act,
         name="mediation_act"),
]
urlpatterns += mobile_urls.urlpatterns  # the phone app, /m/ (mobile/urls.py)
