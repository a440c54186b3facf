"""Archived reports (the read path): Matomo's reports computed per site-local day, merged for longer periods.

Modules, in the order data flows:
- definitions.py  every day report from the raw logs of one local day (SQL, a few passes)
- archive.py      storing archives, weeks/months from days, years from months, the hourly run and
                  invalidation by late data (watermarks over the log tables' ids)
- merge.py        merging rows of shorter periods; exact unique-visitor sets (numpy int64, bytea)
- catalog.py      report names, categories, dimensions, metrics, ratios (API.getReportMetadata)
- periods.py      day/week/month/year/range and Matomo's date parameter (today, lastN, A,B)
- service.py      THE interface for the Reporting API and the dashboard:
      periods_for(period, date) -> [Period]        report(name, period) -> rows | row
      reports(names, period) -> {name: ...}        report_metadata(), report_names(), freshness()
  Errors: errors.ReportError (periods.PeriodError, catalog.UnknownReport).
Scheduling: analytics/scheduled_tasks.py (`archive reports`, hourly); CLI: manage.py archive_reports.
"""
