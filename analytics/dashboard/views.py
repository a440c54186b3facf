"""The site dashboard's views (on the site's own host, inside its schema): parse the query, assemble, render.

Every view needs the view role (instances.site_access); the period picker's choice is in the URL.
Report blocks answer htmx requests (sort, limit, search) with just the block.
"""
from contextlib import nullcontext
from datetime import date
from urllib.parse import urlencode

from django.contrib import messages
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.conf import settings
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext, ngettext
from django.views.decorators.http import require_GET, require_POST

from analytics.dashboard import compare, maps, media, pages
from analytics.dashboard.choice import PeriodChoice, period_choice
from analytics.reports import live, service
from analytics.reports.archive import site_timezone, site_today
from analytics.reports.definitions import span_bounds
from analytics.reports.errors import ReportError
from analytics.reports.periods import PeriodError
from analytics.segments import presets, saved
from analytics.segments.metadata import SEGMENT_OPERATORS, segment_dimension_groups
from analytics.segments.suggest import suggested_values
from instances.models import Role
from instances.site_access import sees_visitors, site_context, site_role_required, visitor_views

VISITOR_LOG_PAGE = 20
MAX_PAGE = 100_000  # a page number beyond this would only make PostgreSQL's OFFSET overflow
KEPT = ("metric", "resource", "segment")  # query parameters the period picker carries along


def _page(request, template: str, section: str, *, segmented: bool = True, **extra):
    """Render a dashboard page with the navigation, the period picker and the data's freshness.

    `segmented`: the page applies `segment=` (and shows the segment bar); the real-time pages do
    not, and say so."""
    try:
        choice, error = period_choice(request.GET, today=site_today()), None
    except PeriodError as exc:
        choice, error = period_choice({}, today=site_today()), str(exc)
    keep = {key: request.GET.get(key) for key in KEPT}  # what the page shows, whatever the period
    if "end" in request.GET and not error:  # the picker's form: back to the short URL worth sharing
        return redirect(f"{request.path}?{choice.query(**keep)}")
    if keep["segment"] and not segmented:
        keep["segment"] = None  # not carried on: this page would show all visits under a segment's name
        messages.info(request, gettext("Segments do not apply to the real-time pages: this page shows all visits."))
    context = site_context(request, section=section, choice=choice, period_error=error, freshness=pages.freshness(),
                           empty=pages.site_is_empty(), kept={k: v for k, v in keep.items() if v is not None},
                           query=choice.query(segment=keep["segment"]), **pages.picker(choice, keep))
    if segmented and not context["empty"]:
        context.update(_segment_bar(request, choice, keep["segment"]))
    if not context["empty"] and "build" in extra:
        # NB: segments computed on request are bounded as the API's are; all visits read as before
        bounded = keep["segment"] or request.GET.getlist("vs")
        try:
            with (service.archiving_bounded(max_archives=settings.FARM_API_MAX_ARCHIVES) if bounded else nullcontext()), \
                    service.segmented(keep["segment"], main_period=choice.period):
                context.update(extra.pop("build")(choice))
                withheld = sum(service.withheld().values())
        except ReportError as exc:  # e.g. a segment that cannot be read: said on the page
            error = context["period_error"] = str(exc)
        else:
            if withheld and not request.headers.get("HX-Request"):  # a partial has no place for it
                k = request.instance.k_anonymity
                messages.info(request, ngettext(
                    "%(n)s row describing fewer than %(k)s visitors is withheld from this segment's reports.",
                    "%(n)s rows describing fewer than %(k)s visitors each are withheld from this segment's reports.",
                    withheld) % {"n": withheld, "k": k})
    context.update(extra)
    return render(request, template, context, status=400 if error else 200)


def _segment_bar(request, choice: PeriodChoice, segment: str | None) -> dict:
    """The segment bar's data: saved and ready-made segments, the builder's dimensions, and the
    visits the applied segment matches in the period — an exact count under the site's k only for
    those who may see single visitors (a count of 1 for userId==alice would be one)."""
    matching = under = None
    if segment and not request.headers.get("HX-Request"):
        between = span_bounds(choice.period.start, choice.period.end, site_timezone())
        try:
            matching = live.visits_count(between=between, segment=segment)
        except ReportError:
            pass  # the build says what is wrong with it
        k = request.instance.k_anonymity
        if matching is not None and not sees_visitors(request.user, request.instance) and \
                live.visits_count(between=between, segment=segment, visitors=True) < k:
            under = k  # NB: k counts visitors: one person's twelve visits are still one person
    return {"segment_bar": True, "saved_segments": list(saved.visible(request.user, request.instance)),
            "compare_asked": request.GET.getlist("vs"),
            "dimension_groups": segment_dimension_groups(), "operators": SEGMENT_OPERATORS,
            "presets": presets.grouped(), "matching": matching, "matching_under": under}


@require_GET
@site_role_required(Role.VIEW)
def overview(request):
    metric = request.GET.get("metric")
    metric = metric if metric in pages.EVOLUTION_METRICS else "nb_visits"

    def build(choice: PeriodChoice) -> dict:
        periods, points = pages.evolution(choice)
        built = {"metric": metric, "evolution": pages.evolution_chart(periods, points, metric),
                 "cards": pages.summary_cards(choice, with_sparklines=True, evolution=points),
                 "blocks": pages.blocks(pages.OVERVIEW_REPORTS, choice, limit=5)}
        if segments := _compared_segments(request):
            built["compared"] = compare.summary(choice, segments)
        return built
    return _page(request, "dashboard/overview.html", "overview", build=build)


def _compared_segments(request) -> list[tuple[str, str]]:
    return compare.asked(request.GET.getlist("vs"), list(saved.visible(request.user, request.instance)))


@require_GET
@site_role_required(Role.VIEW)
def category(request, slug: str):
    category_ = pages.CATEGORIES.get(slug)
    if category_ is None:
        raise Http404("no such report category")

    def build(choice: PeriodChoice) -> dict:
        built = {"blocks": pages.blocks(category_.reports, choice)}
        if category_.summary:
            built["cards"] = pages.summary_cards(choice, category_.summary)
        if slug == "locations":
            built["map"] = maps.visits_per_country(choice)
        return built
    return _page(request, "dashboard/category.html", slug, category=category_, build=build)


@require_GET
@site_role_required(Role.VIEW)
def report(request, name: str):
    """One report with its own sort, limit and search; htmx asks for the block alone."""
    if name not in pages.REPORT_TITLES:
        raise Http404("no such report")
    params = request.GET

    def build(choice: PeriodChoice) -> dict:
        built = {"rep": pages.block(name, choice, chart=pages.CHARTS.get(name), sort=params.get("sort", ""),
                                    order=params.get("order", "desc"), limit=params.get("limit"),
                                    search=params.get("search", ""))}
        if segments := _compared_segments(request):
            built["compared"] = compare.report(name, choice, segments)
        return built
    template = "dashboard/_report.html" if request.headers.get("HX-Request") else "dashboard/report.html"
    return _page(request, template, "report", build=build)


@require_GET
@site_role_required(Role.VIEW)
def realtime(request):
    return _page(request, "dashboard/realtime.html", "realtime", **_realtime(request), segmented=False)


@require_GET
@site_role_required(Role.VIEW)
def realtime_panel(request):
    """The part of the real-time page that htmx polls every few seconds."""
    return render(request, "dashboard/_realtime_panel.html", _realtime(request))


def _realtime(request) -> dict:
    """The counters, and the latest visits for those who may see single visitors."""
    shown = sees_visitors(request.user, request.instance)
    return {"counters": [(minutes, live.counters(minutes)) for minutes in pages.REALTIME_WINDOWS],
            "visits": live.last_visits(limit=10) if shown else None}


@require_GET
@site_role_required(Role.VIEW)
@visitor_views
def visitor_log(request):
    """The visits whose last action falls in the chosen period (as Matomo's visits log), newest
    first, with their actions in order; one page at a time."""
    return _visit_log(request, "dashboard/visitor_log.html", "visitor-log", with_media=False)


@require_GET
@site_role_required(Role.VIEW)
@visitor_views
def media_audience_log(request):
    """The visitor log of the visits that played or saw media: each with what came before and after."""
    return _visit_log(request, "dashboard/media_log.html", "media", with_media=True)


def _visit_log(request, template: str, section: str, *, with_media: bool):
    try:
        number = min(max(1, int(request.GET.get("page", "1"))), MAX_PAGE)
    except ValueError:
        number = 1

    segment = request.GET.get("segment")

    def build(choice: PeriodChoice) -> dict:
        between = span_bounds(choice.period.start, choice.period.end, site_timezone())
        visits = live.last_visits(limit=VISITOR_LOG_PAGE + 1, offset=(number - 1) * VISITOR_LOG_PAGE, between=between,
                                  with_media=with_media, segment=segment)
        return {"visits": visits[:VISITOR_LOG_PAGE], "has_next": len(visits) > VISITOR_LOG_PAGE}
    return _page(request, template, section, page_number=number, build=build)


@require_GET
@site_role_required(Role.VIEW)
@visitor_views
def segment_suggest(request):
    """A dimension's frequent values for the segment builder (JSON, as API.getSuggestedValuesForSegment)."""
    try:
        return JsonResponse(suggested_values(request.GET.get("dimension", "")), safe=False)
    except ReportError as exc:
        return JsonResponse({"error": str(exc)}, status=400)


@require_POST
@site_role_required(Role.VIEW)
def segment_save(request):
    """Save the segment applied on a page (personal, or shared by a site admin; real-time, or
    pre-processed by the archiving run), then show that page with it."""
    definition = request.POST.get("definition", "")
    try:
        try:
            since = date.fromisoformat(request.POST["archive_from"]) if request.POST.get("archive_from") else None
        except ValueError:
            raise ReportError(gettext("The day to pre-process from must be a date.")) from None
        saved.segment_add(request.user, request.instance, name=request.POST.get("name", ""), definition=definition,
                          shared=request.POST.get("shared") == "1", auto_archive=request.POST.get("auto_archive") == "1",
                          archive_from=since)
        messages.success(request, gettext("Segment saved."))
    except ReportError as exc:
        messages.error(request, str(exc))
    back = {key: request.POST.get(key) for key in ("period", "date")} | {"segment": definition}
    path = request.POST.get("next", "")
    path = path if url_has_allowed_host_and_scheme(path, allowed_hosts=None) and path.startswith("/") else "/"
    return redirect(f"{path}?{urlencode({k: v for k, v in back.items() if v})}")


@require_GET
@site_role_required(Role.VIEW)
def media_overview(request):
    metric = request.GET.get("metric")
    metric = metric if metric in media.EVOLUTION_METRICS else "nb_plays"
    return _page(request, "dashboard/media.html", "media", evolution_path="/media/",
                 build=lambda choice: media.overview(choice, metric))


@require_GET
@site_role_required(Role.VIEW)
def media_item(request):
    """One media's page: `resource` is its URL, as the rows of the video and audio tables link it."""
    resource = request.GET.get("resource", "")
    if not resource:
        raise Http404("no media given")

    def build(choice: PeriodChoice) -> dict:
        found = media.item(choice, resource)
        if found is None:
            raise Http404("no impression of this media around this period")
        return {"item": found}
    return _page(request, "dashboard/media_item.html", "media", resource=resource, build=build)


@require_GET
@site_role_required(Role.VIEW)
def media_realtime(request):
    return _page(request, "dashboard/media_realtime.html", "media", **media.realtime(), segmented=False)


@require_GET
@site_role_required(Role.VIEW)
def media_realtime_panel(request):
    """The part of the real-time media page that htmx polls every few seconds."""
    return render(request, "dashboard/_media_realtime_panel.html", media.realtime())


@require_GET
@site_role_required(Role.VIEW)
@visitor_views
def visitor_profile(request, visitor_id: str):
    profile = live.visitor_profile(visitor_id)
    if profile is None:
        raise Http404("no such visitor")
    return _page(request, "dashboard/visitor_profile.html", "visitor-log", profile=profile, segmented=False)
