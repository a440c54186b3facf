"""Task labels: the registration API takes one, or derives a readable one from the function's name."""
import pytest

from farm.cron import registry


def purge_old_logs():
    """A module-level function, as registrations require."""


def test_a_task_without_a_label_reads_as_its_function_name_in_words():
    assert registry.default_label("analytics.privacy.purge_old_logs") == "Purge old logs"
    spec = registry.daily(purge_old_logs, param="unlabelled")
    try:
        assert spec.label == "Purge old logs" and registry.label_for(spec.name, "unlabelled") == "Purge old logs"
    finally:
        registry.unregister(spec.name, "unlabelled")


def test_a_registered_label_is_what_people_read():
    spec = registry.daily(purge_old_logs, param="labelled", label="Forget old visits")
    try:
        assert registry.label_for(spec.name, "labelled") == "Forget old visits"
    finally:
        registry.unregister(spec.name, "labelled")


def test_a_row_whose_code_is_gone_still_reads_as_words():
    assert registry.label_for("gone.module.send_weekly_digest") == "Send weekly digest"


def test_a_blank_label_is_refused_with_a_message():
    with pytest.raises(registry.RegistrationError, match="label must be a non-empty text"):
        registry.daily(purge_old_logs, param="blank", label="  ")
