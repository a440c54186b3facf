"""Sites' own cron URLs: what SPIP's mutualisation calls the super cron.

A site may give the farm its cron entry point (SPIP's `spip.php?action=cron`, WordPress's
`wp-cron.php`, Drupal's `cron/<key>`): an opt-in task of the farm's cron calls it every 1, 5, 15 or
60 minutes, so a site with few visitors still gets its tasks run. Exactly once per period comes
from the cron; the calls themselves go to a runner (the `instances.site_cron` Celery task, on its
own queue) that claims a batch of runs and calls their URLs concurrently (instances.cron_calls),
behind the SSRF guard (instances.url_guard).

Run history: each call is a run (status code, duration, bytes read, error in TaskRun.result and
.error), shown on the site's Scheduled tasks page. Minute runs are kept FARM_CRON_MINUTE_HISTORY_HOURS
(farm.cron.maintenance); the timetable row keeps totals, the last run and the failures in a row.
After FARM_CRON_URL_FAILURE_ALERT failures in a row the site is flagged (`cron_failing_since`) and
its admins get one email; one more when it answers again.
"""
import logging
import zlib
from datetime import timedelta

from celery import current_app
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from farm.conf import farm_setting
from farm.cron import RetryableError, batches
from farm.cron.execution import backoff_seconds, period_end
from farm.cron.periods import Schedule
from farm.cron.registry import dotted_name
from farm.cron.timetable import timetable_task_remove, timetable_task_set
from instances import cron_calls, url_guard
from instances.errors import InvalidRequest
from instances.models import CRON_EVERY_CHOICES, Instance

logger = logging.getLogger(__name__)
RUNNER = "instances.site_cron"
EVERY_CHOICES = tuple(minutes for minutes, _label in CRON_EVERY_CHOICES)


class CronUrlFailed(Exception):
    """The site's cron URL answered with an error that another try would not change (a 4xx, a refusal)."""


def site_cron_call() -> dict:
    """The registered task, as one worker runs it (the CLI's `run_scheduled_tasks`): call the current
    site's cron URL. Runs handed to the runner are called by site_crons_call instead."""
    url = Instance.objects.filter(schema_name=connection.schema_name).values_list("cron_url", flat=True).first()
    if not url:
        raise CronUrlFailed("the site has no cron URL")
    result = cron_calls.call(url)
    if result.retryable:
        raise RetryableError(result.error)
    if not result.ok:
        raise CronUrlFailed(result.error)
    return result.as_dict()


TASK_NAME = dotted_name(site_cron_call)


def site_cron_schedule(instance_id: int, every: int) -> Schedule:
    """Every `every` minutes at an offset drawn from the site's id, so that sites calling every 5, 15
    or 60 minutes are spread over the period instead of all falling on :00."""
    offset = zlib.crc32(str(instance_id).encode()) % every
    if every == 60:
        return Schedule(period="hourly", minute=offset)
    return Schedule(period="minutes", every=every, minute=offset)


@transaction.atomic
def instance_cron_url_set(*, instance: Instance, url: str, every: int = 1) -> Instance:
    """Set (or with an empty url, clear) the site's cron URL and schedule it.

    The URL is checked by the SSRF guard first (raises UrlRefused, an InvalidRequest); a new URL
    starts with a clean record (no failure flag). Returns the saved instance.
    """
    url = (url or "").strip()
    if every not in EVERY_CHOICES:
        raise InvalidRequest(_("Call the cron URL every %(choices)s minutes, not %(every)s.") % {
            "choices": ", ".join(map(str, EVERY_CHOICES)), "every": every})
    if url:
        url_guard.url_check(url)
    instance = Instance.objects.select_for_update().get(pk=instance.pk)
    fields = {"cron_url": url, "cron_every": every}
    new_url = url != instance.cron_url
    if new_url:
        fields["cron_failing_since"] = None
    Instance.objects.filter(pk=instance.pk).update(**fields)
    instance.refresh_from_db()
    if url:
        timetable_task_set(tenant=instance, name=TASK_NAME, schedule=site_cron_schedule(instance.pk, every),
                           fresh=new_url)  # a new URL starts with no failures in a row
    else:
        timetable_task_remove(tenant_id=instance.pk, name=TASK_NAME)
    return instance


def site_crons_call(*, run_ids: list[int], now=None) -> int:
    """The runner: claim these runs, call their sites' URLs at once, record each outcome; retry 5xx,
    time-outs and failed connections later in the period; raise or clear the failure alerts.

    Returns how many calls were made. A run no longer queued (a duplicated message) is not called.
    """
    lease = int(farm_setting("FARM_CRON_URL_TIMEOUT")) + 60
    runs = batches.runs_claim_many(run_ids, lease_seconds=lease, now=now)
    if not runs:
        return 0
    urls = {run.pk: run.task.instance.cron_url for run in runs if run.task.instance.cron_url}
    held = [run.pk for run in runs]
    try:
        results = cron_calls.call_all(urls, every=lease / 3, while_waiting=lambda: batches.leases_renew(
            held, lease_seconds=lease))
    except Exception as exc:  # recorded on every run of the batch, never left "running"
        logger.exception("calling a batch of %d cron URLs failed", len(urls))
        results = {pk: cron_calls.CallResult(error=f"the runner failed: {exc.__class__.__name__}: {exc}"[:500],
                                             retryable=True) for pk in urls}
    outcomes, retries, now = [], {}, now or timezone.now()
    for run in runs:
        result = results.get(run.pk) or cron_calls.CallResult(error="the site has no cron URL any more")
        outcome = _outcome(run, result, now)
        if outcome.not_before is not None:
            delay = (outcome.not_before - now).total_seconds()
            retries.setdefault(int(delay) + 1, []).append(run.pk)
        outcomes.append(outcome)
    finished = batches.runs_finish_many(outcomes, now=now)
    for delay, ids in retries.items():
        current_app.send_task(RUNNER, args=[ids], countdown=delay)
    cron_alerts_update(finished)
    return len(results)


def _outcome(run, result: cron_calls.CallResult, now) -> batches.Outcome:
    details = result.as_dict()
    if result.ok:
        return batches.Outcome(run=run, status="succeeded", result=details, duration_ms=result.duration_ms)
    delay = backoff_seconds(run.attempt)
    not_before = now + timedelta(seconds=delay)
    if result.retryable and run.attempt <= run.task.max_retries and not_before < period_end(run):
        return batches.Outcome(run=run, status="queued", error=f"attempt {run.attempt}: {result.error}",
                               result=details, duration_ms=result.duration_ms, not_before=not_before)
    return batches.Outcome(run=run, status="failed", error=result.error, result=details,
                           duration_ms=result.duration_ms)


def cron_alerts_update(finished: list[batches.Finished]) -> None:
    """Flag the sites whose cron URL just reached the failure threshold and clear those that answer
    again; each change sends one email to the site's admins (the row lock makes it one)."""
    from instances.notifications import notify_cron_url_state

    threshold = farm_setting("FARM_CRON_URL_FAILURE_ALERT")
    failing = [f.instance_id for f in finished if f.status == "failed" and f.consecutive_failures >= threshold]
    answering = [f.instance_id for f in finished if f.status == "succeeded"]
    failures = {f.instance_id: f.consecutive_failures for f in finished}
    for ids, now_failing in ((failing, True), (answering, False)):
        if not ids:
            continue
        with transaction.atomic():  # only the sites whose flag changes: NB the lock re-reads it
            changed = list(Instance.objects.select_for_update().filter(
                pk__in=ids, cron_failing_since__isnull=now_failing))
            Instance.objects.filter(pk__in=[i.pk for i in changed]).update(
                cron_failing_since=timezone.now() if now_failing else None)
        for instance in changed:
            try:
                notify_cron_url_state(instance, failing=now_failing, failures=failures.get(instance.pk, 0))
            except Exception:  # the mail server refused: undo the change, so the next outcome tries again
                logger.exception("could not email the admins of %s about its cron URL", instance.slug)
                Instance.objects.filter(pk=instance.pk).update(cron_failing_since=instance.cron_failing_since)
