"""PrivacyManager.*: the GDPR tools for data subjects (analytics.privacy.subjects), and the
anonymisation of stored rows (analytics.privacy.anonymise), site admins only.

As Matomo: findDataSubjects takes idSite and a segment; exportDataSubjects and deleteDataSubjects
take the visits as `visits[0][idsite]=1&visits[0][idvisit]=42&visits[1][...]…`, which may name
several sites (the caller must be admin of each). Deleting is a write: a session sends it by POST.
"""
import re
from collections import defaultdict
from datetime import date

from django.utils import timezone as dj_timezone

from analytics.api import access
from analytics.api.errors import ApiError, NoAccess
from analytics.api.formats import SUCCESS
from analytics.privacy import subjects
from analytics.privacy.anonymise import ACTION_COLUMNS, VISIT_COLUMNS, columns_checked
from analytics.reports.errors import ReportError
from analytics.reports.periods import periods_for
from farm.tenancy import in_tenant
from instances.anonymisations import anonymisation_schedule
from instances.models import Instance, Role
from instances.selectors import instance_allows


_VISIT_PARAM = re.compile(r"^visits\[(\d{1,6})\]\[(idsite|idvisit)\]$")
_ID = re.compile(r"^[0-9]{1,18}$")  # NB: a bigint; a larger number would make every query scan
_HOW = "Send the visits as visits[0][idsite]=1&visits[0][idvisit]=42 (findDataSubjects lists them)."


def admin_site(user, id_site: int, host: Instance | None) -> Instance:
    """The site, when the person is its admin; Matomo's refusal otherwise (unknown sites alike)."""
    try:
        return access.site_for(user, id_site, host, role=Role.ADMIN)
    except NoAccess:
        raise NoAccess(f"You can't access this resource as it requires 'admin' access for the website id = "
                       f"{id_site}.") from None


def _visits(call) -> dict[int, list[int]]:
    """The visits asked, by site id."""
    entries = defaultdict(dict)
    for name, value in call.params.values.items():
        if found := _VISIT_PARAM.match(name):
            if not _ID.match(str(value).strip()):
                raise ApiError(f"{name} must be a whole number, not “{str(value)[:30]}”. {_HOW}")
            entries[found[1]][found[2]] = int(value)
    if not entries:
        raise ApiError(f"The parameter 'visits' is missing. {_HOW}")
    by_site = defaultdict(list)
    for index, entry in sorted(entries.items()):
        if set(entry) != {"idsite", "idvisit"}:
            raise ApiError(f"visits[{index}] needs both idsite and idvisit. {_HOW}")
        by_site[entry["idsite"]].append(entry["idvisit"])
    return by_site


def find_data_subjects(call) -> list[dict]:
    site = admin_site(call.user, call.site.pk, call.host)
    segment = call.params.required("segment", "a segment selecting the person's visits, e.g. userId==alice")
    return subjects.subjects_find(site=site, by=call.user, segment=segment)


def _per_site(call, action):
    """`action` on each site's visits, once every site and every list was checked (a call refused
    for its second site has done nothing to its first)."""
    visits = _visits(call)
    sites = {id_site: admin_site(call.user, id_site, call.host) for id_site in visits}
    try:
        for ids in visits.values():
            subjects.checked(ids)
        answers = []
        for id_site, ids in visits.items():
            with in_tenant(sites[id_site]):
                answers.append(action(site=sites[id_site], by=call.user, visit_ids=ids))
    except ReportError as error:
        raise ApiError(str(error)) from None
    return answers


def export_data_subjects(call) -> dict[str, list[dict]]:
    merged = defaultdict(list)
    for export in _per_site(call, subjects.subjects_export):
        for table, rows in export.items():
            merged[table].extend(rows)
    return dict(merged)


def delete_data_subjects(call) -> dict[str, int]:
    totals = defaultdict(int)
    for deleted in _per_site(call, subjects.subjects_delete):
        for table, count in deleted.items():
            totals[table] += count
    return dict(sorted(totals.items(), reverse=True))  # NB: Matomo's order (it sorts its answer so)


def anonymize_some_raw_data(call) -> dict:
    """Matomo's anonymizeSomeRawData: schedule the anonymisation of the rows stored on a day range of
    the sites (idSites=1,2 or all: the caller's sites they admin), carried out by each site's task.
    As Matomo, the caller confirms their password (passwordConfirmation)."""
    sites = [admin_site(call.user, id_site, call.host) for id_site in _id_sites(call)]
    if not call.user.check_password(call.params.get("passwordConfirmation") or ""):
        raise ApiError("The current password you entered is not correct: confirm it with passwordConfirmation.")
    first, last = _day_range(call.params.required("date", "the days whose visits to anonymise, YYYY-MM-DD,YYYY-MM-DD"))
    try:
        visit_columns = columns_checked(call.params.listing("unsetVisitColumns"), VISIT_COLUMNS, "Visit columns")
        action_columns = columns_checked(call.params.listing("unsetLinkVisitActionColumns"), ACTION_COLUMNS,
                                         "Action columns")
    except ValueError as error:
        raise ApiError(str(error)) from None
    changes = {"ip_mask_bytes": None, "relocate": call.params.flag("anonymizeLocation"),
               "pseudonymise_user_ids": call.params.flag("anonymizeUserId"),
               "unset_visit_columns": visit_columns, "unset_action_columns": action_columns}
    if not (call.params.flag("anonymizeIp") or any(changes.values())):
        raise ApiError("Nothing to anonymise: set anonymizeIp, anonymizeLocation or anonymizeUserId to 1, or name "
                       "unsetVisitColumns / unsetLinkVisitActionColumns.")
    for site in sites:  # anonymizeIp masks as the site's setting says, at least 2 bytes (Matomo's default)
        mask = max(site.ip_mask_bytes, 2) if call.params.flag("anonymizeIp") else None
        anonymisation_schedule(instance=site, by=call.user, first_day=first, last_day=last,
                               **{**changes, "ip_mask_bytes": mask})
    return SUCCESS


def _id_sites(call) -> list[int]:
    raw = call.params.get("idSites") or call.params.id_site
    if raw is None:
        raise ApiError("The parameter 'idSites' is missing: the sites, e.g. idSites=1,2 or idSites=all")
    if raw.strip().lower() == "all":
        return [site.pk for site in access.readable_sites(call.user, call.host)
                if instance_allows(user=call.user, instance=site, role=Role.ADMIN)]
    ids = [part.strip() for part in raw.split(",") if part.strip()]
    if not ids or not all(_ID.match(part) for part in ids):
        raise ApiError(f"idSites must list site ids, e.g. idSites=1,2 or idSites=all, not “{raw[:30]}”.")
    return sorted({int(part) for part in ids})


def _day_range(raw: str) -> tuple[date, date]:
    """The days `date` names, as the Reporting API reads it: a day, A,B, lastN or previousN."""
    try:
        periods = periods_for("range" if "," in raw else "day", raw, today=dj_timezone.now().date())
    except ReportError as error:
        raise ApiError(f"date: {error}") from None
    return periods[0].start, periods[-1].end


METHODS = {
    "PrivacyManager.findDataSubjects": (find_data_subjects, "site"),
    "PrivacyManager.exportDataSubjects": (export_data_subjects, "farm"),
    "PrivacyManager.deleteDataSubjects": (delete_data_subjects, "farm"),
    "PrivacyManager.anonymizeSomeRawData": (anonymize_some_raw_data, "farm"),
}
