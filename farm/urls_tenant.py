"""URLs answered on each live instance's own domains (inside its schema)."""
from django.urls import include, path

from analytics.api.views import api, api_or
from analytics.dashboard import views as dashboard_views
from analytics.tracking.optout import opt_out
from analytics.tracking.views import track, tracker_script
from instances import site_views

urlpatterns = [
    path("matomo.php", track, name="track"),
    path("piwik.php", track),
    path("matomo.js", tracker_script, name="tracker-script"),
    path("piwik.js", tracker_script),
    path("optout/", opt_out, name="opt-out"),
    path("", api_or(dashboard_views.overview), name="site-dashboard"),
    path("index.php", api, name="api"),
    path("", include("analytics.dashboard.urls")),
    path("tracking-code/", site_views.tracking_code, name="site-tracking-code"),
    path("tasks/", site_views.tasks, name="site-tasks"),
    path("settings/", site_views.site_settings, name="site-settings"),
    path("settings/anonymisations/", site_views.site_anonymisations, name="site-anonymisations"),
    path("sso/accept/", site_views.sso_accept, name="sso-accept"),
    path("logout/", site_views.logout_view, name="site-logout"),
    path("tasks/<int:task_id>/run/", site_views.task_run_now, name="site-task-run"),
]
