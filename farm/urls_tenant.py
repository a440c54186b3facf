"""URLs answered on each live instance's own domains (inside its schema)."""
from django.urls import path

from analytics.api.views import api, api_or
from analytics.tracking.optout import opt_out
from analytics.tracking.views import track, tracker_script
from instances import site_views

urlpatterns = [
    path("matomo.php", track, name="track"),
    path("piwik.php", track),
    path("matomo.js", tracker_script, name="tracker-script"),
    path("piwik.js", tracker_script),
    path("optout/", opt_out, name="opt-out"),
    path("", api_or(site_views.dashboard), name="site-dashboard"),
    path("index.php", api, name="api"),
    path("settings/", site_views.site_settings, name="site-settings"),
    path("sso/accept/", site_views.sso_accept, name="sso-accept"),
    path("logout/", site_views.logout_view, name="site-logout"),
    path("tasks/<int:task_id>/run/", site_views.task_run_now, name="site-task-run"),
]
