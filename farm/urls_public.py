"""Portal URLs (the public schema, on FARM_DOMAIN): accounts, site requests, tokens, admin."""
from django.contrib import admin
from django.urls import include, path

from analytics.api.views import api, api_or
from analytics.tracking.optout import opt_out
from analytics.tracking.views import track, tracker_script
from farm.console import console
from farm.health import healthz, metrics
from instances import views

urlpatterns = [
    path("matomo.php", track, name="track"),
    path("piwik.php", track),
    path("matomo.js", tracker_script, name="tracker-script"),
    path("piwik.js", tracker_script),
    path("optout/", opt_out, name="opt-out"),
    path("", api_or(views.home), name="home"),
    path("index.php", api, name="api"),
    path("healthz", healthz, name="healthz"),
    path("metrics", metrics, name="metrics"),
    path("admin/console/", admin.site.admin_view(console), name="farm-console"),
    path("admin/", admin.site.urls),
    path("accounts/signup/", views.signup, name="signup"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("sites/", views.my_sites, name="my-sites"),
    path("sites/request/", views.request_site, name="request-site"),
    path("sites/<slug:slug>/members/", views.site_members, name="site-members"),
    path("invitations/<str:token>/", views.invitation, name="invitation"),
    path("sso/start/", views.sso_start, name="sso-start"),
    path("tokens/", views.tokens, name="tokens"),
]
