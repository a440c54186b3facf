"""The one error family of the reports package: edges turn a ReportError into a 4xx or a CLI message."""


class ReportError(ValueError):
    """A report request cannot be served as asked; the message says what to ask instead."""
