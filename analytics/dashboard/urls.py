"""The dashboard's paths on each site's host (farm/urls_tenant.py includes them at the root, and
routes "/" itself: the overview, or the Reporting API when the request carries module=API)."""
from django.urls import path, re_path

from analytics.dashboard import email_reports, privacy, views

urlpatterns = [
    path("reports/<slug:slug>/", views.category, name="dashboard-category"),
    re_path(r"^report/(?P<name>[A-Za-z]+\.[A-Za-z]+)/$", views.report, name="dashboard-report"),
    path("realtime/", views.realtime, name="dashboard-realtime"),
    path("realtime/panel/", views.realtime_panel, name="dashboard-realtime-panel"),
    path("visitor-log/", views.visitor_log, name="dashboard-visitor-log"),
    path("privacy/", privacy.privacy, name="dashboard-privacy"),
    path("email-reports/", email_reports.email_reports, name="dashboard-email-reports"),
    path("email-reports/<int:report_id>/preview/", email_reports.email_report_preview,
         name="dashboard-email-report-preview"),
    path("email-reports/<int:report_id>/", email_reports.email_report_act, name="dashboard-email-report-act"),
    path("segments/save/", views.segment_save, name="dashboard-segment-save"),
    path("segments/suggest/", views.segment_suggest, name="dashboard-segment-suggest"),
    path("media/", views.media_overview, name="dashboard-media"),
    path("media/item/", views.media_item, name="dashboard-media-item"),
    path("media/realtime/", views.media_realtime, name="dashboard-media-realtime"),
    path("media/realtime/panel/", views.media_realtime_panel, name="dashboard-media-realtime-panel"),
    path("media/audience-log/", views.media_audience_log, name="dashboard-media-audience-log"),
    re_path(r"^visitors/(?P<visitor_id>[0-9a-f]{16})/$", views.visitor_profile, name="dashboard-visitor"),
]
