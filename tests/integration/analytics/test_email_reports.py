"""Scheduled email reports: created and listed through ScheduledReports.* with Matomo's parameters;
sent by the site's hourly task at their hour once their period is over, at most once a period (two
ticks racing send one email); the numbers in the email are the Reporting API's, its charts valid
PNGs, its CSV the API's CSV; a loopback SMTP server of the test's own receives it."""
import asyncio
import email
import os
import subprocess
import sys
import uuid
from email.header import decode_header, make_header
import io
import re
import socket
import threading
from datetime import datetime, time, timedelta, timezone

import pytest
from aiosmtpd.controller import Controller
from django.conf import settings
from django.core import mail
from django.db import connection
from django.test import override_settings
from django.utils import timezone as dj_timezone
from PIL import Image

from analytics.email_reports.delivery import (
    LEASE, SEND_NOW_PER_HOUR, delivery_resend, due_period, reports_send_due,
)
from farm.celery import app as celery_app
from farm.cron import execution
from farm.cron.models import ScheduledTask
from farm.cron.tasks import work_task
from farm.tenancy import in_tenant
from instances.models import Membership, Role
from instances.scheduled_reports import ReportDelivery, ScheduledReport
from instances.tokens import token_create
from tests.conftest import _test_database_url, wait_for
from tests.factories import make_instance, make_user
from tests.integration.analytics.api_traffic import DAY, call_api, is_error, make_traffic

TASK = "analytics.email_reports.tasks.send_email_reports"
SENT_AT = datetime.combine(DAY.date() + timedelta(days=1), time(8), timezone.utc)  # the next morning, 08:00 UTC


@pytest.fixture
def site(db):
    instance = make_instance("mailed", state="publie")  # UTC
    make_traffic(instance)
    return instance


@pytest.fixture
def token(site):
    return token_create(user=site.owner)[1]


def add_report(client, token, site, **extra) -> tuple[int, object]:
    params = {"idSite": site.pk, "description": "Daily digest", "period": "day", "hour": 8, "reportType": "email",
              "reportFormat": "html", "reports[0]": "VisitsSummary_get", "reports[1]": "Actions_getPageUrls",
              "reports[2]": "UserCountry_getCountry", "parameters[emailMe]": 1,
              "parameters[additionalEmails][0]": "team@example.org", **extra}
    return call_api(client, post={"token_auth": token}, method="ScheduledReports.addReport", **params)


def backdated(report_id: int) -> ScheduledReport:
    """As if created before the day it reports on (a new report sends nothing of the past at once)."""
    ScheduledReport.objects.filter(pk=report_id).update(created_at=DAY - timedelta(days=1))
    return ScheduledReport.objects.select_related("instance", "user").get(pk=report_id)


def section(html: str, method: str) -> str:
    return re.search(rf'data-method="{re.escape(method)}".*?</table>', html, re.S).group(0)


def send_due(site, now):
    with in_tenant(site):
        return reports_send_due(site=site, now=now)


@pytest.mark.django_db
def test_reports_are_added_listed_changed_and_deleted_with_matomos_parameters(client, site, token):
    status, body = add_report(client, token, site)
    assert status == 200 and isinstance(body["value"], int)
    assert ScheduledTask.objects.filter(instance=site, name=TASK).exists()  # the site's sending task is on
    _, listed = call_api(client, token_auth=token, method="ScheduledReports.getReports", idSite=site.pk)
    assert len(listed) == 1 and {"idreport", "idsite", "login", "description", "period", "hour", "type", "format",
                                 "reports", "parameters", "ts_created", "ts_last_sent", "deleted"} <= set(listed[0])
    assert listed[0]["reports"] == ["VisitsSummary_get", "Actions_getPageUrls", "UserCountry_getCountry"]
    assert listed[0]["parameters"]["additionalEmails"] == ["team@example.org"]
    report_id = body["value"]

    answer = add_report(client, token, site, **{"reports[0]": "Nothing_here"})
    assert is_error(answer) and "Nothing_here" in answer[1]["message"]
    answer = add_report(client, token, site, **{"parameters[additionalEmails][0]": "not an address"})
    assert is_error(answer) and "not an email address" in answer[1]["message"]
    assert is_error(add_report(client, token, site, hour=24)) and is_error(add_report(client, token, site, period="hourly"))
    answer = add_report(client, token, site, description="Digest\r\nBcc: everyone@example.org")
    assert is_error(answer) and "one line" in answer[1]["message"]  # no header injection through the subject

    status, body = call_api(client, post={"token_auth": token}, method="ScheduledReports.updateReport",
                            idReport=report_id, idSite=site.pk, description="Weekly digest", period="week", hour=7,
                            reportType="email", reportFormat="html", **{"reports[]": "Referrers_getReferrerType"})
    assert (status, body) == (200, {"result": "success", "message": "ok"})
    report = ScheduledReport.objects.get(pk=report_id)
    assert (report.description, report.period, report.hour, report.reports) == (
        "Weekly digest", "week", 7, ["Referrers.getReferrerType"])

    viewer = make_user("vic")  # a viewer has reports of their own, and does not see the owner's
    Membership.objects.create(instance=site, user=viewer, role=Role.VIEW)
    viewer_token = token_create(user=viewer)[1]
    assert call_api(client, token_auth=viewer_token, method="ScheduledReports.getReports")[1] == []
    answer = call_api(client, post={"token_auth": viewer_token}, method="ScheduledReports.deleteReport",
                      idReport=report_id)
    assert is_error(answer) and "couldn't be found" in answer[1]["message"]
    assert add_report(client, viewer_token, site)[0] == 200

    assert call_api(client, post={"token_auth": token}, method="ScheduledReports.deleteReport",
                    idReport=report_id)[1] == {"result": "success", "message": "ok"}
    assert not ScheduledReport.objects.filter(pk=report_id).exists()
    assert ScheduledTask.objects.filter(instance=site, name=TASK).exists()  # the viewer's report still needs it


@pytest.mark.django_db
def test_a_report_goes_at_its_hour_once_its_period_is_over_once(client, site, token):
    report = backdated(add_report(client, token, site)[1]["value"])
    assert due_period(report, SENT_AT - timedelta(minutes=1)) is None  # 07:59: not its hour yet
    assert send_due(site, SENT_AT - timedelta(minutes=1)) == {"sent": 0, "failed": 0, "unknown": 0}
    assert send_due(site, SENT_AT) == {"sent": 1, "failed": 0, "unknown": 0}
    assert send_due(site, SENT_AT + timedelta(hours=1)) == {"sent": 0, "failed": 0, "unknown": 0}
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == [site.owner.email, "team@example.org"]
    delivery = ReportDelivery.objects.get()
    assert (delivery.state, delivery.period_label, delivery.recipients) == (
        "sent", f"day:{DAY.date()}", [site.owner.email, "team@example.org"])
    new = ScheduledReport.objects.get(pk=report.pk)
    ScheduledReport.objects.filter(pk=new.pk).update(created_at=SENT_AT + timedelta(hours=2))
    new.refresh_from_db()
    assert due_period(new, SENT_AT + timedelta(hours=3)) is None  # created after its moment: no backlog sent


@pytest.mark.django_db
def test_the_emails_numbers_are_the_apis_with_a_png_chart_per_report_and_the_apis_csv(client, site, token):
    backdated(add_report(client, token, site)[1]["value"])
    send_due(site, SENT_AT)
    message = mail.outbox[0]
    html = message.alternatives[0][0]
    parts = {part.get("Content-ID"): part for part in message.attachments if not isinstance(part, tuple)}
    for n in range(3):
        png = parts[f"<chart-{n}>"].get_payload(decode=True)
        assert png.startswith(b"\x89PNG\r\n\x1a\n") and f'src="cid:chart-{n}"' in html
        Image.open(io.BytesIO(png)).verify()  # a whole, valid PNG
    day = DAY.date().isoformat()
    _, summary = call_api(client, token_auth=token, method="VisitsSummary.get", idSite=site.pk, period="day", date=day)
    shown = dict(re.findall(r'data-metric="(\w+)"[^>]*>([^<]*)<', section(html, "VisitsSummary.get")))
    assert set(shown) >= {"nb_visits", "nb_actions"} and summary["nb_visits"] == 4
    assert all(str(summary[metric]) == value for metric, value in shown.items())
    _, pages = call_api(client, token_auth=token, method="Actions.getPageUrls", idSite=site.pk, period="day", date=day,
                        filter_limit=10)
    hits = re.findall(r'data-metric="nb_hits"[^>]*>([^<]*)<', section(html, "Actions.getPageUrls"))
    assert hits and [int(v) for v in hits] == [row["nb_hits"] for row in pages]
    csv_name, csv_text, csv_type = next(a for a in message.attachments if isinstance(a, tuple))
    assert csv_type == "text/csv" and csv_name.endswith(".csv")
    api_csv = client.get("/index.php", {"module": "API", "method": "UserCountry.getCountry", "idSite": site.pk,
                                        "period": "day", "date": day, "filter_limit": 10, "format": "csv",
                                        "token_auth": token}, HTTP_HOST="localhost").content.decode()
    assert api_csv.strip() in csv_text


@pytest.mark.django_db(transaction=True)
def test_two_ticks_racing_send_one_email(client):
    site = make_instance("raced", state="publie")
    make_traffic(site)
    report = backdated(add_report(client, token_create(user=site.owner)[1], site)[1]["value"])
    barrier, results = threading.Barrier(2), []

    def tick():
        barrier.wait()
        try:
            results.append(send_due(site, SENT_AT)["sent"])
        finally:
            connection.close()
    threads = [threading.Thread(target=tick) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [0, 1]
    assert len([m for m in mail.outbox if "Daily digest" in m.subject]) == 1  # (the site's validation mail aside)
    assert ReportDelivery.objects.filter(report=report).count() == 1


class Inbox:
    """A loopback SMTP server of the test's own (aiosmtpd): keeps what it receives; `stall` leaves
    DATA unanswered, as a mail server that took the message and never acknowledged it."""

    def __init__(self):
        self.messages, self.started, self.stall = [], threading.Event(), False

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(email.message_from_bytes(envelope.content))  # the server has it…
        self.started.set()
        if self.stall:
            await asyncio.sleep(3600)  # …but never says so (the connection's end cancels this)
        return "250 OK"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def inbox():
    handler, port = Inbox(), free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    handler.port = port
    yield handler
    controller.stop()


@pytest.mark.django_db
def test_a_local_smtp_server_receives_the_email_with_its_charts_inline_and_the_csv(client, site, token, inbox):
    backdated(add_report(client, token, site)[1]["value"])
    with override_settings(EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend", EMAIL_HOST="127.0.0.1",
                           EMAIL_PORT=inbox.port, EMAIL_USE_TLS=False):
        assert send_due(site, SENT_AT)["sent"] == 1
    [received] = inbox.messages
    kinds = [part.get_content_type() for part in received.walk()]
    assert kinds.count("image/png") == 3 and "text/html" in kinds and "text/csv" in kinds
    assert "Daily digest" in str(make_header(decode_header(received["Subject"])))


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_send_leaves_one_unknown_delivery_and_no_second_email(client, inbox):
    """A real Celery worker sends to a mail server that takes the message but never answers; the
    worker is killed there. The server did get the email: the delivery must become "unknown", and
    no later tick may send it again; a person's resend does."""
    site = make_instance("killed", state="publie")
    report = backdated(add_report(client, token_create(user=site.owner)[1], site, hour=0)[1]["value"])
    inbox.stall = True
    queue, name = f"farm-test-kill-{uuid.uuid4().hex[:8]}", f"kill-{uuid.uuid4().hex[:6]}@{socket.gethostname()}"
    env = {**os.environ, "DATABASE_URL": _test_database_url(), "EMAIL_HOST": "127.0.0.1",
           "EMAIL_PORT": str(inbox.port)}
    worker = subprocess.Popen([sys.executable, "-m", "celery", "-A", "farm", "worker", "--pool", "solo", "-n", name,
                               "-Q", queue, "--without-gossip", "--without-mingle", "--loglevel", "WARNING"],
                              env=env, cwd=settings.BASE_DIR)
    try:
        wait_for(lambda: celery_app.control.inspect(destination=[name], timeout=0.5).ping(), timeout=30)
        execution.run_now(task=ScheduledTask.objects.get(instance=site, name=TASK))
        work_task.apply_async(queue=queue)  # the worker claims the run and starts sending
        assert inbox.started.wait(30), "the worker never reached the mail server"
        worker.kill()  # mid-send: the message is with the server, its answer never came
        worker.wait(10)
    finally:
        if worker.poll() is None:
            worker.kill()
    delivery = ReportDelivery.objects.get(report=report)
    assert delivery.state == "sending"
    assert len(inbox.messages) == 1  # the server kept the message it had
    inbox.stall = False

    later = dj_timezone.now() + LEASE + timedelta(minutes=1)
    assert send_due(site, later) == {"sent": 0, "failed": 0, "unknown": 1}
    # a later tick, the same day (an hour later crossed midnight after 23:00 UTC: the next day's report fell due)
    assert send_due(site, later + timedelta(minutes=1)) == {"sent": 0, "failed": 0, "unknown": 0}
    delivery.refresh_from_db()
    assert delivery.state == "unknown" and "may or may not have gone" in delivery.error
    assert len(inbox.messages) == 1  # never a blind second send

    with override_settings(EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend", EMAIL_HOST="127.0.0.1",
                           EMAIL_PORT=inbox.port, EMAIL_USE_TLS=False), in_tenant(site):
        assert delivery_resend(delivery=delivery).state == "sent"  # a person decided to send it again
    assert len(inbox.messages) == 2 and ReportDelivery.objects.filter(report=report).count() == 1


@pytest.mark.django_db
def test_send_now_sends_at_once_within_a_limit_an_hour(client, site, token):
    report_id = add_report(client, token, site, **{"reports[0]": "UserCountry_getCountry", "reports[1]": "",
                                                   "reports[2]": ""})[1]["value"]

    def send():
        return call_api(client, post={"token_auth": token}, method="ScheduledReports.sendReport", idReport=report_id,
                        period="day", date=DAY.date().isoformat())
    for _ in range(SEND_NOW_PER_HOUR):
        assert send() == (200, {"result": "success", "message": "ok"})
    answer = send()
    assert is_error(answer) and "wait a little" in answer[1]["message"]
    assert len(mail.outbox) == SEND_NOW_PER_HOUR and ReportDelivery.objects.filter(forced=True, state="sent").count() == 10
