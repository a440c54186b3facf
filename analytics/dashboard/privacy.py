"""The dashboard's GDPR page (site admins): find a person's visits, export them (JSON or CSV),
delete them, and see the site's audit trail of these actions (analytics.privacy.subjects)."""
import csv
import io
import json
import re
from urllib.parse import quote, urlencode

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext, ngettext
from django.views.decorators.http import require_http_methods

from analytics.api.formats import safe_cell
from analytics.privacy import subjects
from analytics.reports.errors import ReportError
from analytics.segments import grammar
from instances.models import Role
from instances.privacy import user_pseudonym
from instances.site_access import site_context, site_role_required

_VISITOR_ID = re.compile(r"^[0-9a-fA-F]{16}$")
_ID = re.compile(r"^[0-9]{1,18}$")


def as_segment(asked: str, site=None) -> str:
    """What a person types in the search box as a segment: a segment expression (it has an
    operator), or a user id — its pseudonym too where the site pseudonymises them (the rows since
    hold only that), and when it is 16 hexadecimal digits, a visitor id too. A value is encoded
    twice, as the grammar decodes a condition, then its value (a user id may hold ',', ';', '+', '%')."""
    asked = asked.strip()
    if grammar.OPERATOR.search(asked):
        return asked
    users = [asked] + ([user_pseudonym(asked, site_id=site.pk)] if site is not None and site.pseudonymise_user_ids
                       else [])
    found = [f"userId=={quote(quote(user, safe=''), safe='')}" for user in users]
    return ",".join([f"visitorId=={asked.lower()}"] * bool(_VISITOR_ID.match(asked)) + found)


@require_http_methods(["GET", "POST"])
@site_role_required(Role.ADMIN)
def privacy(request):
    asked = request.GET.get("q", "").strip()[:500]
    if request.method == "POST":
        return _act(request)
    found, segment = None, as_segment(asked, request.instance) if asked else ""
    if segment:
        try:
            found = subjects.subjects_find(site=request.instance, by=request.user, segment=segment)
        except ReportError as error:
            messages.error(request, str(error))
    return render(request, "dashboard/privacy.html", site_context(
        request, section="privacy", asked=asked, segment=segment, found=found, most=subjects.FIND_LIMIT,
        trail=subjects.audit_trail(request.instance)))


def _act(request):
    ids = [int(value) for value in request.POST.getlist("visit") if _ID.match(value)]
    action, back = request.POST.get("action"), f"{request.path}?{urlencode({'q': request.POST.get('q', '')})}"
    try:
        if action in ("json", "csv"):
            export = subjects.subjects_export(site=request.instance, by=request.user, visit_ids=ids)
            return _download(export, action, request.instance.slug)
        if action == "delete":
            deleted = subjects.subjects_delete(site=request.instance, by=request.user, visit_ids=ids)
            messages.success(request, ngettext(
                "Deleted %(visits)s visit and all its rows (%(rows)s); its days are archived again.",
                "Deleted %(visits)s visits and all their rows (%(rows)s); their days are archived again.",
                deleted["log_visit"]) % {"visits": deleted["log_visit"],
                                         "rows": ", ".join(f"{t}: {n}" for t, n in deleted.items())})
        else:
            messages.error(request, gettext("Choose to export or to delete the visits."))
    except ReportError as error:
        messages.error(request, gettext("Tick the visits first.") if not ids else str(error))
    return redirect(back)


def _download(export: dict[str, list[dict]], fmt: str, slug: str) -> HttpResponse:
    """The export as a file: JSON as the API answers it, or one CSV of every table's rows (a
    `table` column first, then the union of the tables' columns)."""
    if fmt == "json":
        body, kind = json.dumps(export, indent=2, ensure_ascii=False), "application/json"
    else:
        columns = list(dict.fromkeys(column for rows in export.values() for row in rows for column in row))
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=["table", *columns])
        writer.writeheader()
        for table, rows in export.items():
            for row in rows:
                writer.writerow({"table": table, **{k: safe_cell(json.dumps(v) if isinstance(v, dict | list) else v)
                                                    for k, v in row.items()}})
        body, kind = out.getvalue(), "text/csv; charset=utf-8"
    response = HttpResponse(body, content_type=kind)
    response["Content-Disposition"] = f'attachment; filename="{slug}-data-subjects.{fmt}"'
    return response
