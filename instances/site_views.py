"""Views on each site's own host (inside its schema) that are about the site, not its statistics:
the tracking code, the scheduled tasks, the settings, and the SSO landing. The reports are
analytics.dashboard's."""
from django.contrib import messages
from django.contrib.auth import login, logout
from django.db import transaction
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from farm.cron import execution as cron_execution
from farm.cron import selectors as cron_selectors
from farm.cron.dispatch import runs_wake
from farm.cron.labels import task_label
from farm.cron.models import RunStatus, ScheduledTask
from instances import quotas
from instances.errors import InvalidRequest
from instances.forms import SiteSettingsForm
from instances.hosts import normalise_host
from instances.models import Instance, Role
from instances.selectors import anonymisations_recent, portal_url
from instances.services import instance_settings_update
from instances.site_access import site_context, site_role_required
from instances.sso import STATE_COOKIE, sso_state_forget, sso_ticket_redeem


@require_GET
@site_role_required(Role.VIEW)
def tracking_code(request):
    """The snippet to paste on the tracked website."""
    return render(request, "site/tracking_code.html", site_context(request, section="tracking-code"))


@require_GET
@site_role_required(Role.VIEW)
def tasks(request):
    """The site's scheduled tasks (admins may run one now) and their recent runs."""
    instance = request.instance
    return render(request, "site/tasks.html", site_context(
        request, section="tasks", tasks=cron_selectors.timetable(instance_id=instance.pk),
        runs=cron_selectors.run_history(instance_id=instance.pk, limit=20),
        cron_failing_since=_cron_failing_since(instance)))


def _cron_failing_since(instance):
    """Read afresh: the runner flags a site without touching the host cache's copy of it."""
    return Instance.objects.filter(pk=instance.pk).values_list("cron_failing_since", flat=True).first()


@require_http_methods(["GET", "POST"])
@site_role_required(Role.ADMIN)
def site_settings(request):
    """Timezone and privacy settings, for the site's admins only."""
    instance = request.instance
    current = Instance.objects.get(pk=instance.pk)
    form = SiteSettingsForm(request.POST or None, instance=current)
    if request.method == "POST" and form.is_valid():
        try:
            instance_settings_update(instance=instance, form=form, by=request.user)
        except InvalidRequest as exc:  # the URL changed address between the form's check and the save
            form.add_error("cron_url", str(exc))
        else:
            messages.success(request, _("Settings saved."))
            return redirect("/settings/")
    return render(request, "site/settings.html", site_context(
        request, section="settings", form=form, opt_out_url=f"{request.scheme}://{request.get_host()}/optout/",
        cron_failing_since=current.cron_failing_since, usage=quotas.usage_many([current])[current.pk],
        **anonymisations_recent(instance=instance)))


@require_GET
@site_role_required(Role.ADMIN)
def site_anonymisations(request):
    """The Settings page's list of anonymisations of stored data, polled while one is going on."""
    return render(request, "site/_anonymisations.html", anonymisations_recent(instance=request.instance))


@require_POST
@site_role_required(Role.ADMIN)
def task_run_now(request, task_id: int):
    """Let a site admin run one of the site's scheduled tasks now (a forced run)."""
    instance = request.instance
    task = ScheduledTask.objects.filter(pk=task_id, instance_id=instance.pk, enabled=True).first()
    if task is None:
        return render(request, "site/message.html", {"instance": instance, "title": _("Not found"),
                                                     "message": _("No such task on this site.")}, status=404)
    run = cron_execution.run_now(task=task)
    if run.status == RunStatus.QUEUED:
        transaction.on_commit(lambda: runs_wake([run.pk]))
        messages.success(request, _("“%(task)s” will run in a moment.") % {"task": task_label(task)})
    else:
        messages.warning(request, _("Not started: the previous run is still running."))
    return redirect("/tasks/")


@require_GET
def sso_accept(request):
    """Open this host's session from the portal's ticket, if this browser started the sign-in."""
    try:
        user = sso_ticket_redeem(ticket=request.GET.get("ticket", ""), host=normalise_host(request.get_host()),
                                 state=request.COOKIES.get(STATE_COOKIE))
    except InvalidRequest as exc:
        return render(request, "site/sso_error.html", {"message": str(exc), "instance": request.instance},
                      status=400)
    login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    next_path = request.GET.get("next", "/")
    if not url_has_allowed_host_and_scheme(next_path, allowed_hosts=None) or not next_path.startswith("/"):
        next_path = "/"
    response = redirect(next_path)
    sso_state_forget(response)
    return response


@require_POST
def logout_view(request):
    logout(request)
    return redirect(portal_url(request, "/"))
