"""The site dashboard: the reports of one site on its own host, read through analytics.reports.

- choice.py   the period picker's query (?period=…&date=…&compare=1), pure
- tables.py   a report's rows as a table: shown columns, sort, search, limit, comparison, pure
- pages.py    what each page shows (categories, cards, evolution, charts), through the report service
- views.py    thin views; urls.py their paths (included by farm/urls_tenant.py)
Charts are drawn by static/analytics/dashboard.js with the vendored Chart.js; htmx refreshes parts.
"""
