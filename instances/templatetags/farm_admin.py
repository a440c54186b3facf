"""Template tags for the admin index: the count of site requests awaiting a decision."""
from django import template

from instances.selectors import pending_requests_count

register = template.Library()


@register.simple_tag
def pending_requests():
    return pending_requests_count()
