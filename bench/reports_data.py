"""A fast traffic generator for the reports benchmark: visits and actions written straight into a
site's log tables with INSERT … SELECT over generate_series (PostgreSQL does the work; nothing
goes through the tracking endpoint). Deterministic: the same arguments give the same rows.

The data look like a real site's: ~300k distinct visitors (so many visits are returns), 500 pages
with titles, a mix of page views / events / downloads / outlinks / site searches, referrer types,
campaigns, devices, browsers, countries and languages. One "heavy" day carries about a fifth of
all visits, so a single day of about 1 M actions can be archived.
"""
from django.db import connection

VISIT_SQL = """
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
FROM (
    SELECT g, %(start)s::timestamptz
              + make_interval(days => CASE WHEN g %% 5 = 0 THEN %(heavy_offset)s ELSE ((g * 7919) %% %(days)s)::int END)
              + make_interval(secs => (g * 104729) %% 86000) AS t
    FROM generate_series(0::bigint, %(n)s - 1) AS g
) AS src
"""

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


def generate(*, visits: int, actions_per_visit: int, days: int, start, heavy_offset: int) -> dict:
    """Fill the current schema's log tables; returns the row counts."""
    params = {"n": visits, "visitors": max(1, visits * 3 // 10), "apv": actions_per_visit, "days": days,
              "start": start, "heavy_offset": heavy_offset}
    with connection.cursor() as cursor:
        cursor.execute(VISIT_SQL, params)
        cursor.execute(ACTION_SQL)
        cursor.execute("ANALYZE analytics_visit; ANALYZE analytics_action")
        cursor.execute("SELECT (SELECT count(*) FROM analytics_visit), (SELECT count(*) FROM analytics_action)")
        n_visits, n_actions = cursor.fetchone()
    return {"visits": n_visits, "actions": n_actions}
