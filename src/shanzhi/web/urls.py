from django.urls import path

from . import views

urlpatterns = [
    path("", views.home, name="home"),
    path("map/", views.territory_map, name="map"),
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", views.LogoutView.as_view(), name="logout"),
]
