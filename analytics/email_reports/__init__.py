"""Scheduled email reports (Matomo's ScheduledReports): what a report holds and looks like
(content), when it is due and how it is sent at most once per period (delivery), and the reports a
person may choose (catalogue). The rows live in the public schema (instances.ScheduledReport,
instances.ReportDelivery); the numbers come from the Reporting API's own answer."""
