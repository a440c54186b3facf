"""Domain errors: each carries a message a person can act on; edges turn them into 4xx or exit codes."""


class FarmError(Exception):
    """Base for refusals that are the caller's to fix (never a server fault)."""


class TransitionNotAllowed(FarmError):
    """The requested lifecycle action does not apply to the instance's current status."""


class InvalidRequest(FarmError):
    """A site request or its parameters are refused (bad slug, taken slug, missing reason)."""


class PermissionDenied(FarmError):
    """The person lacks the role the action needs on that site."""
