"""Ready-made behavioural segments, one click each on the dashboard: the six kinds people start from.

Each is a plain segment expression (the same grammar as a typed one); the kind says what sort of
behaviour it picks visits by. The ones that need a value of the site (a campaign, a country, an
order amount) are built with the condition builder instead, from its suggested values.
"""
from django.utils.translation import gettext_lazy as _

PRESETS = (  # (kind, name, expression)
    (_("Visits"), _("New visitors"), "visitorType==new"),
    (_("Visits"), _("Returning visitors"), "visitorType==returning,visitorType==returningCustomer"),
    (_("Visits"), _("Bounced (one action)"), "actions==1"),
    (_("Interactions"), _("Converted a goal"), "visitConverted==1"),
    (_("Interactions"), _("Triggered an event"), "eventCategory!="),
    (_("Interactions"), _("Played a media"), "media_plays_type!="),
    (_("Campaigns"), _("From search engines"), "referrerType==search"),
    (_("Campaigns"), _("From a campaign"), "referrerType==campaign"),
    (_("Campaigns"), _("From social networks"), "referrerType==social"),
    (_("Ecommerce"), _("Buyers"), "visitEcommerceStatus==ordered"),
    (_("Ecommerce"), _("Non-buyers"), "visitEcommerceStatus==none"),
    (_("Ecommerce"), _("Orders of 100 or more"), "revenueOrder>=100"),
    (_("Demographics"), _("Browser in French"), "languageCode==fr"),
    (_("Demographics"), _("Browser in English"), "languageCode==en"),
    (_("Technology"), _("Smartphones"), "deviceType==smartphone"),
    (_("Technology"), _("Desktops"), "deviceType==desktop"),
    (_("Technology"), _("Tablets"), "deviceType==tablet"),
)


def grouped() -> list[tuple[str, list[tuple[str, str]]]]:
    """The presets by kind, in order: [(kind, [(name, expression), ...]), ...]."""
    groups: dict[str, list] = {}
    for kind, name, expression in PRESETS:
        groups.setdefault(str(kind), []).append((str(name), expression))
    return list(groups.items())
