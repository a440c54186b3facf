"""The web process's entry point settles before its first request."""
import gc


def test_the_wsgi_module_loads_the_views_and_freezes_what_it_made():
    import farm.wsgi
    from django.urls import get_resolver

    try:
        assert gc.get_freeze_count() > 10_000  # Django, the apps, both URL confs and their views
        assert callable(farm.wsgi.application) and get_resolver().url_patterns
    finally:
        gc.unfreeze()
