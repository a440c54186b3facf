"""The Matomo-compatible Reporting API: `?module=API&method=Module.action&idSite=N&period=...&date=...`.

views (HTTP edge) → params (parsing) → access (who sees which sites) → methods (the method table,
calling analytics.reports) → filters (filter_limit, sort, pattern, columns) → formats (json/csv/tsv/xml).
"""
