"""A fast traffic generator for the reports benchmark: visits and actions written straight into a
site's log tables with INSERT … SELECT over generate_series (PostgreSQL does the work; nothing
goes through the tracking endpoint). Deterministic: the same arguments give the same rows.

The data look like a real site's: ~300k distinct visitors (so many visits are returns), 500 pages
with titles, a mix of page views / events / downloads / outlinks / site searches, referrer types,
campaigns, devices, browsers, countries and languages. One "heavy" day carries about a fifth of
all visits, so a single day of about 1 M actions can be archived. About 30 % of visits play a video
or an audio (500 resources, 70 % video sessions); one media-heavy day can be given visits of its own
until it holds a given number of media sessions.
"""
from django.db import connection

_VISIT_ROWS = """
INSERT INTO analytics_visit (visitor_id, user_id, first_action_at, last_action_at, actions, entry_url, exit_url,
    referrer_url, referrer_type, referrer_name, campaign_name, campaign_keyword, "returning", visit_count,
    days_since_last_visit, local_time, resolution, language, user_agent, ip, country, device_type, device_brand,
    device_model, os_name, os_version, browser_name, browser_version, dimensions)
SELECT lpad(to_hex(g %% %(visitors)s), 16, '0'), CASE WHEN g %% 17 = 0 THEN 'user' || (g %% 5000) ELSE '' END,
    t, t + make_interval(secs => (g %% 7) * 45), %(apv)s, 'https://bench.example/p' || (g %% 500),
    'https://bench.example/p' || ((g * 7) %% 500), '',
    (ARRAY['direct','search','website','social','campaign'])[1 + g %% 5],
    (ARRAY['','Google','blog' || (g %% 40) || '.example','Mastodon','spring'])[1 + g %% 5],
    CASE WHEN g %% 5 = 4 THEN 'spring' ELSE '' END, CASE WHEN g %% 5 = 4 THEN 'kw' || (g %% 9) ELSE '' END,
    g >= %(visitors)s, 1 + g / %(visitors)s, NULL, make_time((g %% 24)::int, (g %% 60)::int, 0),
    (ARRAY['1920x1080','1366x768','390x844','2560x1440'])[1 + g %% 4], (ARRAY['fr-fr','en-us','de-de'])[1 + g %% 3],
    'Mozilla/5.0', '192.0.0.0', (ARRAY['FR','US','DE','BE','CA','JP'])[1 + g %% 6],
    (ARRAY['desktop','smartphone','tablet'])[1 + g %% 3], (ARRAY['','Apple','Samsung','Google'])[1 + g %% 4],
    (ARRAY['','iPhone','Galaxy S23','Pixel 7'])[1 + g %% 4], (ARRAY['Windows','Android','iOS','GNU/Linux','Mac'])[1 + g %% 5],
    '1' || (g %% 5), (ARRAY['Chrome','Firefox','Safari','Edge'])[1 + g %% 4], '12' || (g %% 10), '{}'::jsonb
FROM ({source}) AS src
"""
VISIT_SQL = _VISIT_ROWS.replace("{source}", """
    SELECT g, %(start)s::timestamptz
              + make_interval(days => CASE WHEN g %% 5 = 0 THEN %(heavy_offset)s ELSE ((g * 7919) %% %(days)s)::int END)
              + make_interval(secs => (g * 104729) %% 86000) AS t
    FROM generate_series(0::bigint, %(n)s - 1) AS g
""")
# The media-heavy day's own visits: the same columns (their g follows the others', so their visitors
# are returning ones), spread over the site-local day but for its last 15 minutes (so that a visit
# and its media sessions stay inside the day).
MEDIA_DAY_VISIT_SQL = _VISIT_ROWS.replace("{source}", """
    SELECT g, %(media_day_start)s::timestamptz + make_interval(secs => (g * 104729) %% %(media_day_secs)s) AS t
    FROM generate_series(%(n)s::bigint, %(n)s + %(media_day_visits)s - 1) AS g
""")

ACTION_SQL = """
INSERT INTO analytics_action (hit_id, visit_id, kind, at, url, title, pv_id, event_category, event_action, event_name,
    event_value, search_keyword, search_category, search_count, content_name, content_piece, content_target,
    content_interaction, generation_ms, dimensions)
SELECT md5(v.id::text || ':' || k)::uuid, v.id, kind, v.first_action_at + make_interval(secs => k * 45),
    CASE kind WHEN 'outlink' THEN 'https://elsewhere.example/' || (v.id % 30)
              WHEN 'download' THEN 'https://bench.example/files/doc' || (v.id % 20) || '.pdf'
              ELSE 'https://bench.example/p' || ((v.id * 7 + k * 13) % 500) END,
    CASE WHEN kind = 'pageview' THEN 'Page ' || ((v.id * 7 + k * 13) % 500) ELSE '' END, '',
    CASE WHEN kind = 'event' THEN 'Video' ELSE '' END, CASE WHEN kind = 'event' THEN 'play' ELSE '' END,
    CASE WHEN kind = 'event' THEN 'clip' || (v.id % 12) ELSE '' END, CASE WHEN kind = 'event' THEN (v.id % 100) END,
    CASE WHEN kind = 'search' THEN 'honey ' || (v.id % 50) ELSE '' END, '', CASE WHEN kind = 'search' THEN (v.id % 4) END,
    '', '', '', '', 100 + (v.id % 400), '{}'::jsonb
FROM analytics_visit v
CROSS JOIN LATERAL generate_series(0, v.actions - 1) AS k
CROSS JOIN LATERAL (SELECT CASE WHEN k = 0 OR (v.id + k) % 10 < 7 THEN 'pageview'
                                WHEN (v.id + k) % 10 = 7 THEN 'event'
                                WHEN (v.id + k) % 10 = 8 THEN (ARRAY['download','outlink'])[1 + (v.id % 2)]
                                ELSE 'search' END AS kind) AS kinds
"""


# Media sessions (analytics_mediaplay), one row per player per page view, from `{sessions}`: rows of
# (visit_id, slot, first_action_at, last_action_at), `slot` telling a visit's players apart. Every
# pseudo-random draw comes from md5 of the session's key, so the rows are deterministic.
# - Resources: k in 0..499, popular ones first (k = 500 x², x uniform); the 5th k of each five
#   reuses the 4th's path with another query string, so 500 resources group into 400 paths. A path
#   q is a video when q % 10 < 7 (70 % of paths, spread evenly so the popular ones mix too), 20 s to
#   10 min long; an audio 1 to 20 min.
# - Outcomes: 40 % impressions only, 2 % with 1 s watched (not a play), 43.5 % stopped at 5 to
#   90 % of the length, 14.5 % finished (a quarter of the plays; one in four of those replays part);
#   one in five plays past a minute skips a stretch (seek). `segments` are the 5 s positions played,
#   `watched` what they cover; time to play for anything started; some video in full screen.
_MEDIA_ROWS = """
INSERT INTO analytics_mediaplay (visit_id, pv_id, media_id, media_type, resource, title, player, length_seconds,
    watched_seconds, progress_seconds, time_to_play_seconds, width, height, fullscreen, segments, first_at, last_at)
SELECT s.visit_id, left(md5('pv:' || s.visit_id), 6), 'm' || s.slot || left(r.h, 4), res.t,
    'https://bench.example/media/' || res.t || '/' || kk.q || CASE res.t WHEN 'video' THEN '.mp4' ELSE '.mp3' END
        || CASE WHEN kk.k %% 5 >= 3 THEN '?src=' || (ARRAY['embed', 'share'])[kk.k %% 5 - 2] ELSE '' END,
    CASE res.t WHEN 'video' THEN 'Video ' ELSE 'Episode ' END || kk.q,
    CASE WHEN res.t = 'audio' THEN (ARRAY['html5', 'soundcloud'])[1 + r.r4 %% 2]
         ELSE (ARRAY['html5', 'html5', 'youtube', 'vimeo'])[1 + r.r4 %% 4] END,
    res.len, w.watched, pl.progress, pl.ttp,
    CASE WHEN res.t = 'video' AND r.r4 / 16 %% 20 > 0 THEN (ARRAY[1920, 1280, 854, 3840, 640])[1 + r.r4 / 320 %% 5] END,
    CASE WHEN res.t = 'video' AND r.r4 / 16 %% 20 > 0 THEN (ARRAY[1080, 720, 480, 2160, 360])[1 + r.r4 / 320 %% 5] END,
    res.t = 'video' AND w.watched > 1 AND r.r4 / 1600 %% 100 < 12, COALESCE(seg.list, ''),
    fa.first_at, fa.first_at + make_interval(secs => COALESCE(pl.ttp, 0) + w.watched)
FROM ({sessions}) AS s
CROSS JOIN LATERAL (SELECT md5(s.visit_id || ':' || s.slot) AS h) AS hh
CROSS JOIN LATERAL (SELECT hh.h, ('x' || substr(hh.h, 1, 8))::bit(32)::bigint AS r1,
                           ('x' || substr(hh.h, 9, 8))::bit(32)::bigint AS r2,
                           ('x' || substr(hh.h, 17, 8))::bit(32)::bigint AS r3,
                           ('x' || substr(hh.h, 25, 8))::bit(32)::bigint AS r4) AS r
CROSS JOIN LATERAL (SELECT floor(500 * power(r.r1 / 4294967296.0, 2))::int AS k) AS k0
CROSS JOIN LATERAL (SELECT k0.k, k0.k / 5 * 4 + LEAST(k0.k %% 5, 3) AS q) AS kk
CROSS JOIN LATERAL (SELECT ('x' || left(md5('media:' || kk.q), 8))::bit(32)::bigint AS hq) AS hr
CROSS JOIN LATERAL (SELECT CASE WHEN kk.q %% 10 < 7 THEN 'video' ELSE 'audio' END AS t,
                           CASE WHEN kk.q %% 10 < 7 THEN 20 + hr.hq %% 581 ELSE 60 + hr.hq %% 1141 END AS len) AS res
CROSS JOIN LATERAL (SELECT r.r2 %% 1000 AS o) AS oo
CROSS JOIN LATERAL (
    SELECT CASE WHEN oo.o < 400 THEN 0 WHEN oo.o < 420 THEN 1
                WHEN oo.o < 855 THEN GREATEST(2, res.len * (5 + r.r3 %% 86) / 100) ELSE res.len END AS progress,
           CASE WHEN oo.o >= 855 AND r.r3 / 100 %% 4 = 0 THEN res.len * (r.r3 / 400 %% 30) / 100 ELSE 0 END AS rewatch,
           CASE WHEN oo.o >= 400 THEN (ARRAY[0, 1, 1, 1, 2, 2, 3, 5, 8, 20])[1 + r.r3 / 12000 %% 10] END AS ttp,
           oo.o >= 420 AND r.r3 / 7 %% 5 = 0 AS seek
) AS pl
CROSS JOIN LATERAL (
    SELECT string_agg(pos::text, ',' ORDER BY pos) AS list, count(*) AS n
    FROM generate_series(0, (pl.progress - 1) / 5 * 5, 5) AS pos
    WHERE pl.progress > 0
      AND NOT (pl.seek AND pl.progress >= 60 AND pos >= pl.progress / 4 AND pos < pl.progress * 3 / 5)
) AS seg
CROSS JOIN LATERAL (SELECT LEAST(pl.progress, seg.n * 5) + pl.rewatch AS watched) AS w
CROSS JOIN LATERAL (SELECT s.first_action_at + make_interval(
    secs => r.r4 / 1000 %% (1 + extract(epoch FROM s.last_action_at - s.first_action_at)::int)) AS first_at) AS fa
"""
# About 30 % of all visits (drawn by a hash of the id, so unrelated to the visits' other columns) play one.
MEDIA_SQL = _MEDIA_ROWS.replace("{sessions}", """
    SELECT v.id AS visit_id, 0 AS slot, v.first_action_at, v.last_action_at FROM analytics_visit v
    WHERE ('x' || left(md5('media:' || v.id), 8))::bit(32)::bigint %% 100 < 30
""")
# The media-heavy day's own visits (those after last_visit_id) play MEDIA_DAY_PER_VISIT each, up to
# media_day_extra sessions in all.
MEDIA_DAY_PER_VISIT = 2
MEDIA_DAY_SQL = _MEDIA_ROWS.replace("{sessions}", f"""
    SELECT v.id AS visit_id, slot, v.first_action_at, v.last_action_at
    FROM (SELECT v.*, row_number() OVER (ORDER BY v.id) - 1 AS rn FROM analytics_visit v
          WHERE v.id > %(last_visit_id)s) AS v
    CROSS JOIN generate_series(0, {MEDIA_DAY_PER_VISIT - 1}) AS slot
    WHERE v.rn * {MEDIA_DAY_PER_VISIT} + slot < %(media_day_extra)s
""")


def generate(*, visits: int, actions_per_visit: int, days: int, start, heavy_offset: int,
             media_day: tuple | None = None, media_heavy: int = 0) -> dict:
    """Fill the current schema's log tables; returns the row counts.

    `media_day` (the UTC bounds of a site-local day) gets visits of its own carrying media sessions
    until that day holds `media_heavy` of them; the visits' actions are generated with the others'.
    """
    params = {"n": visits, "visitors": max(1, visits * 3 // 10), "apv": actions_per_visit, "days": days,
              "start": start, "heavy_offset": heavy_offset}
    media_day_visits = 0
    with connection.cursor() as cursor:
        cursor.execute(VISIT_SQL, params)
        cursor.execute(MEDIA_SQL, params)
        if media_day and media_heavy:
            cursor.execute("SELECT count(*), (SELECT COALESCE(max(id), 0) FROM analytics_visit)"
                           " FROM analytics_mediaplay WHERE first_at >= %s AND first_at < %s", list(media_day))
            already, last_visit_id = cursor.fetchone()
            extra = max(0, media_heavy - already)
            media_day_visits = -(-extra // MEDIA_DAY_PER_VISIT)
            params |= {"media_day_start": media_day[0], "media_day_visits": media_day_visits,
                       "media_day_secs": int((media_day[1] - media_day[0]).total_seconds()) - 900,
                       "last_visit_id": last_visit_id, "media_day_extra": extra}
            cursor.execute(MEDIA_DAY_VISIT_SQL, params)
            cursor.execute(MEDIA_DAY_SQL, params)
        cursor.execute(ACTION_SQL)
        cursor.execute("ANALYZE analytics_visit; ANALYZE analytics_action; ANALYZE analytics_mediaplay")
        cursor.execute("SELECT (SELECT count(*) FROM analytics_visit), (SELECT count(*) FROM analytics_action),"
                       " (SELECT count(*) FROM analytics_mediaplay),"
                       " (SELECT count(*) FROM analytics_mediaplay WHERE media_type = 'video')")
        n_visits, n_actions, n_media, n_video = cursor.fetchone()
    return {"visits": n_visits, "actions": n_actions, "media": n_media, "media_video": n_video,
            "media_day_visits": media_day_visits}
