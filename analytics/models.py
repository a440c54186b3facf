"""Per-site analytics log tables (in each tenant schema), close to Matomo's log_* tables."""
from django.db import models
from django.utils.translation import gettext_lazy as _


class Visit(models.Model):
    """One visit (session) of one visitor, as Matomo's log_visit keeps it."""

    visitor_id = models.CharField(_("visitor id"), max_length=16)  # indexed with last_action_at below
    user_id = models.CharField(_("user id"), max_length=200, blank=True)
    first_action_at = models.DateTimeField(_("first action"), db_index=True)
    last_action_at = models.DateTimeField(_("last action"))
    actions = models.PositiveIntegerField(_("actions"), default=0)
    entry_url = models.TextField(_("entry page"), blank=True)
    exit_url = models.TextField(_("exit page"), blank=True)
    referrer_url = models.TextField(_("referrer"), blank=True)
    referrer_type = models.CharField(max_length=12, default="direct")
    referrer_name = models.CharField(max_length=255, blank=True)
    campaign_name = models.CharField(max_length=255, blank=True)
    campaign_keyword = models.CharField(max_length=255, blank=True)
    returning = models.BooleanField(_("returning visitor"), default=False)
    visit_count = models.PositiveIntegerField(default=1)
    days_since_last_visit = models.PositiveIntegerField(null=True, blank=True)
    local_time = models.TimeField(_("visitor's local time"), null=True, blank=True,
                                  help_text="The visitor's clock at the first action (h, m, s).")
    resolution = models.CharField(max_length=12, blank=True)
    language = models.CharField(max_length=255, blank=True)
    user_agent = models.TextField(blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True, help_text="Masked before storage.")
    country = models.CharField(max_length=2, blank=True, help_text="ISO 3166-1 alpha-2, from the masked IP.")
    device_type = models.CharField(max_length=32, blank=True)
    device_brand = models.CharField(max_length=64, blank=True)
    device_model = models.CharField(max_length=64, blank=True)
    os_name = models.CharField(max_length=64, blank=True)
    os_version = models.CharField(max_length=32, blank=True)
    browser_name = models.CharField(max_length=64, blank=True)
    browser_version = models.CharField(max_length=32, blank=True)
    dimensions = models.JSONField(default=dict, blank=True)

    class Meta:
        verbose_name = _("visit")
        verbose_name_plural = _("visits")
        indexes = [models.Index(fields=["visitor_id", "-last_action_at"], name="visit_visitor_last_idx"),
                   # the latest visits first: real-time, the visitor log, Live.getLastVisitsDetails
                   models.Index(fields=["last_action_at", "id"], name="visit_last_action_idx")]

    @property
    def duration_seconds(self) -> int:
        return int((self.last_action_at - self.first_action_at).total_seconds())


class Action(models.Model):
    """One tracked action of a visit: page view, download, outlink, site search, event or content."""

    class Kind(models.TextChoices):
        PAGEVIEW = "pageview"
        DOWNLOAD = "download"
        OUTLINK = "outlink"
        SEARCH = "search"
        EVENT = "event"
        CONTENT = "content"

    hit_id = models.UUIDField(unique=True)  # time-ordered (UUIDv7, accept.new_hit_id): appended to its index
    # NB: no foreign-key constraint in the database on the rows ingest writes by COPY (as in Matomo's
    # log tables): its check at commit locked each action's visit row and cost ingest a sixth of its
    # time. Ingest, the only writer, writes a visit before its actions in the same transaction, and
    # deleting visits through the ORM still deletes their actions (on_delete).
    visit = models.ForeignKey(Visit, on_delete=models.CASCADE, related_name="log_actions", db_constraint=False,
                              db_index=False)  # action_visit_at_idx (visit, at) serves lookups by visit
    kind = models.CharField(max_length=10, choices=Kind.choices)
    at = models.DateTimeField(db_index=True)
    url = models.TextField(blank=True)
    title = models.CharField(max_length=1024, blank=True)
    pv_id = models.CharField(max_length=32, blank=True)
    event_category = models.CharField(max_length=255, blank=True)
    event_action = models.CharField(max_length=255, blank=True)
    event_name = models.CharField(max_length=255, blank=True)
    event_value = models.FloatField(null=True, blank=True)
    search_keyword = models.CharField(max_length=255, blank=True)
    search_category = models.CharField(max_length=255, blank=True)
    search_count = models.PositiveIntegerField(null=True, blank=True)
    content_name = models.CharField(max_length=255, blank=True)
    content_piece = models.CharField(max_length=1024, blank=True)
    content_target = models.TextField(blank=True)
    content_interaction = models.CharField(max_length=255, blank=True)
    generation_ms = models.PositiveIntegerField(null=True, blank=True)
    dimensions = models.JSONField(default=dict, blank=True)

    class Meta:
        indexes = [models.Index(fields=["visit", "at"], name="action_visit_at_idx")]


class Conversion(models.Model):
    """A goal conversion or an ecommerce order (goal 0), with its items."""

    hit_id = models.UUIDField(unique=True)
    visit = models.ForeignKey(Visit, on_delete=models.CASCADE, related_name="conversions",
                              db_constraint=False)  # see Action.visit
    at = models.DateTimeField(db_index=True)
    goal_id = models.PositiveIntegerField(help_text="0 for an ecommerce order")
    revenue = models.FloatField(default=0)
    order_id = models.CharField(max_length=100, blank=True)
    items = models.JSONField(default=list, blank=True)
    subtotal = models.FloatField(null=True, blank=True)
    tax = models.FloatField(null=True, blank=True)
    shipping = models.FloatField(null=True, blank=True)
    discount = models.FloatField(null=True, blank=True)
    url = models.TextField(blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["order_id"], condition=~models.Q(order_id=""),
                                               name="conversion_one_order")]


class MediaPlay(models.Model):
    """One play session of one audio or video: watched time and progress only ever grow."""

    visit = models.ForeignKey(Visit, on_delete=models.CASCADE, related_name="media_plays")
    pv_id = models.CharField(max_length=32, blank=True)
    media_id = models.CharField(max_length=255)
    media_type = models.CharField(max_length=5)
    resource = models.TextField(blank=True)
    title = models.CharField(max_length=255, blank=True)
    player = models.CharField(max_length=100, blank=True)
    length_seconds = models.PositiveIntegerField(default=0)
    watched_seconds = models.PositiveIntegerField(default=0)
    progress_seconds = models.PositiveIntegerField(default=0)
    time_to_play_seconds = models.PositiveIntegerField(null=True, blank=True)
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    fullscreen = models.BooleanField(default=False)
    segments = models.CharField(max_length=4096, blank=True)
    first_at = models.DateTimeField(db_index=True)
    last_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["visit", "pv_id", "media_id"], name="media_one_row_per_play")]


class Archive(models.Model):
    """One report of one period, as computed rows (Matomo's archive_blob, one JSON document per report).

    Day archives come from the raw logs; week and month archives only from day archives, and year
    archives from month archives (analytics.reports.archive). `complete` says whether the period had
    ended, in the site's timezone, when the rows were computed: an incomplete archive is redone once
    its period is over, a complete one stays as it is until late data invalidates its day.
    """

    class Period(models.TextChoices):
        DAY = "day"
        WEEK = "week"
        MONTH = "month"
        YEAR = "year"

    segment = models.CharField(max_length=40, blank=True, default="",
                               help_text="The saved segment's key (restricted.Selection.key); empty for all visits.")
    period = models.CharField(max_length=5, choices=Period.choices)
    start = models.DateField()
    report = models.CharField(max_length=100)
    rows = models.JSONField(default=list)
    computed_at = models.DateTimeField()
    complete = models.BooleanField(default=False)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["segment", "period", "start", "report"], name="archive_one_per_report")]


class ArchiveVisitors(models.Model):
    """The exact set of visitors (and of users) of one day, week or month, for unique counts.

    Unique visitors cannot be summed across days, so each period keeps its sorted, distinct 64-bit
    visitor ids (the 16-hex visitor id read as an integer; user ids hashed to 64 bits) packed in a
    bytea: about 8 bytes a visitor. Longer periods and ranges union these sets.
    """

    segment = models.CharField(max_length=40, blank=True, default="",
                               help_text="The saved segment's key (restricted.Selection.key); empty for all visits.")
    period = models.CharField(max_length=5, choices=Archive.Period.choices)
    start = models.DateField()
    visitors = models.BinaryField()
    users = models.BinaryField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["segment", "period", "start"], name="archive_visitors_one_per_period")]


class ArchiveSet(models.Model):
    """Other exact visitor sets of one day, week or month, by name: the media audience
    ("impressions", "plays_video", ...), packed as ArchiveVisitors' sets are. A week or month
    unions its days' sets, as unique visitors do."""

    segment = models.CharField(max_length=40, blank=True, default="",
                               help_text="The saved segment's key (restricted.Selection.key); empty for all visits.")
    period = models.CharField(max_length=5, choices=Archive.Period.choices)
    start = models.DateField()
    name = models.CharField(max_length=40)
    ids = models.BinaryField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["segment", "period", "start", "name"], name="archive_set_one_per_name")]


class ArchiveState(models.Model):
    """Where the last archiving run stopped (a single row): the highest log ids it had seen.

    Rows above these ids are new or late data; the days they fall on are the days to archive again.
    """

    max_visit_id = models.BigIntegerField(default=0)
    max_action_id = models.BigIntegerField(default=0)
    max_conversion_id = models.BigIntegerField(default=0)
    max_media_id = models.BigIntegerField(default=0)
    last_run_at = models.DateTimeField(null=True, blank=True)
    last_run_seconds = models.FloatField(null=True, blank=True)
    # The first site-local day whose raw logs are whole: the days before it were deleted by the
    # retention (analytics.privacy.retention), their archives are all that is left of them.
    raw_logs_from = models.DateField(null=True, blank=True)
    # Per period kind ("day", "week", "month", "year"), the start before which the report retention
    # (analytics.privacy.report_retention) deleted its reports: such periods are never built again.
    reports_purged_before = models.JSONField(default=dict, blank=True)


class ArchiveInvalidation(models.Model):
    """A closed day whose logs changed without a new row: a heartbeat or a media play's progress
    lengthened one of its visits (late, from a backlog), or a data subject's rows were deleted. The
    archiving ids watermarks cannot see that; the next run archives the day again and deletes the mark."""

    day = models.DateField()


class SavedSegment(models.Model):
    """A segment saved on this site (Matomo's `segment` table, for one site): personal to its owner,
    or shared with every member of the site (`shared`, Matomo's enable_all_users)."""

    name = models.CharField(max_length=255)
    definition = models.TextField()
    owner_id = models.IntegerField(help_text="The portal user who saved it (a public-schema id).")
    owner_login = models.CharField(max_length=150)
    shared = models.BooleanField(default=False)
    auto_archive = models.BooleanField(default=False, help_text="Pre-processed by the hourly archiving run.")
    archive_from = models.DateField(null=True, blank=True,
                                    help_text="Pre-processed from this day on; empty: from the site's first data.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
