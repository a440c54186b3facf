"""Template tags for the portal's "My sites" board: sort links, changes against the period before, sparklines."""
from django import template
from django.utils.html import format_html

from instances.overview import percent

register = template.Library()
SPARK_WIDTH, SPARK_HEIGHT = 120, 28


@register.simple_tag(takes_context=True)
def sort_link(context, key: str, title: str):
    """A column title that sorts the board by `key` (again: the other way), swapped in place by htmx."""
    board = context["board"]
    current = board.sort == key
    first = "asc" if key == "name" else "desc"
    order = ("asc" if board.order == "desc" else "desc") if current else first
    href = f"?{context['query']}&sort={key}&order={order}"
    arrow = (" ↓" if board.order == "desc" else " ↑") if current else ""
    return format_html('<a href="{}" hx-get="{}" hx-target="#sites-board" hx-swap="outerHTML" hx-push-url="true" '
                       'data-sort="{}">{}{}</a>', href, href, key, title, arrow)


@register.simple_tag
def change(quotient: float, plain: bool = False):
    """The change as "+50%", "-25%" or "0%", coloured by its direction (a block under the number unless `plain`)."""
    text = ("+" if quotient > 0 else "") + percent(quotient)
    direction = "up" if quotient > 0 else "down" if quotient < 0 else "flat"
    return format_html('<span class="change {}{}">{}</span>', direction, "" if plain else " under", text)


@register.simple_tag
def sparkline(values: list):
    """An inline SVG line of `values` (oldest first), scaled to its own maximum; the values ride along
    in data-values for a person hovering it and for tests."""
    if not values:
        return ""
    top = max(values) or 1
    step = SPARK_WIDTH / max(len(values) - 1, 1)
    points = " ".join(f"{n * step:.1f},{SPARK_HEIGHT - 2 - (value / top) * (SPARK_HEIGHT - 4):.1f}"
                      for n, value in enumerate(values))
    listed = ",".join(str(round(value)) for value in values)
    return format_html('<svg class="sparkline" width="{}" height="{}" viewBox="0 0 {} {}" data-values="{}" role="img" '
                       'aria-label="{}"><polyline fill="none" stroke="#2456c9" stroke-width="1.5" points="{}"/></svg>',
                       SPARK_WIDTH, SPARK_HEIGHT, SPARK_WIDTH, SPARK_HEIGHT, listed, listed, points)
