"""Slug rules: a slug is both a DNS label (the site's subdomain) and a PostgreSQL schema name."""
import re

from django.utils.translation import gettext as _

from farm.conf import farm_setting
from instances.errors import InvalidRequest

SLUG_RE = re.compile(r"^[a-z][a-z0-9-]{1,38}[a-z0-9]$")


def slug_clean(raw: str) -> str:
    """Return the normalised slug or raise InvalidRequest saying what to change."""
    slug = (raw or "").strip().lower()
    if not SLUG_RE.match(slug):
        raise InvalidRequest(
            _("“%(slug)s” is not a valid address: use 3 to 40 lowercase letters, digits or hyphens, "
              "starting with a letter and not ending with a hyphen.") % {"slug": raw}
        )
    if "--" in slug:
        raise InvalidRequest(_("“%(slug)s” is not a valid address: two hyphens in a row are not allowed.") % {"slug": slug})
    if slug in farm_setting("FARM_RESERVED_SLUGS") or slug.startswith("pg-"):
        raise InvalidRequest(_("“%(slug)s” is reserved; please choose another address.") % {"slug": slug})
    return slug


def schema_name_for(slug: str) -> str:
    """Schema name for a slug: hyphens become underscores (injective, as slugs hold no underscore)."""
    return slug.replace("-", "_")
