"""Matomo's sub-tables: page URLs as a folder tree, search engines and campaigns with their keywords.

The archive stores flat rows (a page's path; a keyword with its `parent` engine or campaign). The
API presents them as Matomo does: top-level rows carry `idsubdatatable`, `idSubtable=N` answers
that row's children, `flat=1` answers every leaf with its full label, `expanded=1` nests the
children under `subtable`. Ids are the position of the parent in the period's own listing, so
they are stable for a given period and data.
"""
from analytics.api.errors import ApiError
from analytics.reports import anonymity, catalog

PAGE_TREES = ("Actions.getPageUrls", "Actions.getEntryPageUrls", "Actions.getExitPageUrls")
KEYWORDS = {"Referrers.getSearchEngines": "Referrers.getKeywordsFromSearchEngineId",
            "Referrers.getCampaigns": "Referrers.getKeywordsFromCampaignId"}
_ADDITIVE_PAGE = tuple(catalog.PAGE_METRICS)


def page_tree(name: str, rows: list[dict], *, base_url: str) -> tuple[list[dict], dict[int, list[dict]]]:
    """The top level of a page-URL report and its sub-tables by id (folders hold their pages).

    "/blog/a" sits in folder "blog" as "/a"; "/" and "/blog/" are the "/index" page of their level; the
    k floor's "Other" row stays at the top level, last, as it is.
    """
    root: dict = {}
    others = [row for row in rows if anonymity.is_other(row["label"])]  # the k floor's: no page, no folder, no url
    for row in rows:
        if row in others:
            continue
        *folders, leaf = row["label"].lstrip("/").split("/")
        level = root
        for folder in folders:
            level = level.setdefault(folder, {})
        level[("/" + (leaf or "index"), row["label"])] = {**row, "label": "/" + (leaf or "index"),
                                                         "url": base_url + row["label"]}
    subtables: dict[int, list[dict]] = {}
    return _level(name, root, subtables) + others, subtables  # NB: "Other" last, as in every segmented table


def _level(name: str, level: dict, subtables: dict) -> list[dict]:
    rows = []
    for key, value in level.items():
        if isinstance(key, tuple):
            rows.append(value)
            continue
        children = _level(name, value, subtables)
        idsub = len(subtables) + 1
        subtables[idsub] = children
        totals = {m: sum(child.get(m) or 0 for child in children) for m in _ADDITIVE_PAGE}
        rows.append({**catalog.spec(name).with_ratios({"label": key, **totals}), "idsubdatatable": idsub})
    return catalog.ordered(catalog.spec(name), rows)


def flat_pages(rows: list[dict], *, base_url: str) -> list[dict]:
    """Every page (flat=1), labelled by its full path, with its `url`."""
    return [row if anonymity.is_other(row["label"]) else {**row, "url": base_url + row["label"]} for row in rows]


def keyword_tables(parents: list[dict], keywords: list[dict]) -> tuple[list[dict], dict[int, list[dict]]]:
    """Engines (or campaigns) with `idsubdatatable`, and each one's keywords by that id."""
    subtables, rows = {}, []
    for idsub, parent in enumerate(parents, start=1):
        subtables[idsub] = [{k: v for k, v in kw.items() if k != "parent"} for kw in keywords
                            if kw.get("parent") == parent["label"]]
        rows.append({**parent, "idsubdatatable": idsub})
    return rows, subtables


def flat_keywords(keywords: list[dict]) -> list[dict]:
    """Keywords labelled "Engine - keyword", as Matomo flattens a referrer sub-table."""
    return [{**{k: v for k, v in kw.items() if k != "parent"}, "label": f"{kw.get('parent')} - {kw['label']}"}
            for kw in keywords]


def subtable(subtables: dict[int, list[dict]], idsub: int) -> list[dict]:
    if idsub not in subtables:
        raise ApiError(f"idSubtable={idsub} does not exist in this report for this period")
    return subtables[idsub]


def expanded(rows: list[dict], subtables: dict[int, list[dict]]) -> list[dict]:
    """Rows with their children nested under `subtable` (expanded=1), recursively."""
    return [{**row, "subtable": expanded(subtables[row["idsubdatatable"]], subtables)}
            if "idsubdatatable" in row else row for row in rows]
