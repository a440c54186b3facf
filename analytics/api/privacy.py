"""PrivacyManager.*: the GDPR tools for data subjects (analytics.privacy.subjects), site admins only.

As Matomo: findDataSubjects takes idSite and a segment; exportDataSubjects and deleteDataSubjects
take the visits as `visits[0][idsite]=1&visits[0][idvisit]=42&visits[1][...]…`, which may name
several sites (the caller must be admin of each). Deleting is a write: a session sends it by POST.
"""
import re
from collections import defaultdict

from analytics.api import access
from analytics.api.errors import ApiError, NoAccess
from analytics.privacy import subjects
from analytics.reports.errors import ReportError
from farm.tenancy import in_tenant
from instances.models import Instance, Role

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


METHODS = {
    "PrivacyManager.findDataSubjects": (find_data_subjects, "site"),
    "PrivacyManager.exportDataSubjects": (export_data_subjects, "farm"),
    "PrivacyManager.deleteDataSubjects": (delete_data_subjects, "farm"),
}
