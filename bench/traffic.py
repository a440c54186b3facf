"""Traffic shaped like a farm's, as queue entries the door would have written (benchmarks only).

Sites of Zipf-like sizes; visitors each with one browser, drawn from device-detector's fixture
agents (bots left out) with a Zipf tail and their last version number raised, as after a browser
release; a share of hits from visitors already seen (the rest open new visitors); varied masked
addresses, address digests, countries and languages; page URLs with a Zipf tail per site.
"""
import itertools
import random
import secrets
import uuid

LANGUAGES = ("en-us", "fr-fr", "de-de", "es-es", "it-it", "pt-br", "nl-nl", "pl-pl", "ja-jp", "zh-cn", "ru-ru",
             "en-gb", "fr-be", "sv-se", "da-dk", "fi-fi", "cs-cz", "tr-tr", "ko-kr", "ar-sa")
COUNTRIES = ("US", "FR", "DE", "ES", "IT", "BR", "NL", "PL", "JP", "CN", "RU", "GB", "BE", "SE", "DK", "FI", "CZ",
             "TR", "KR", "SA", "CA", "IN", "MX", "AR", "")
REFERRERS = ("", "", "", "https://www.google.com/search?q=farm", "https://duckduckgo.com/?q=site",
             "https://www.facebook.com/", "https://news.example.net/article/12")


def _zipf(count: int, exponent: float = 1.0) -> list[float]:
    return list(itertools.accumulate(1 / (rank + 1) ** exponent for rank in range(count)))


class Traffic:
    """Visitors and their browsers, kept between days: `day()` gives that day's hits."""

    def __init__(self, site_ids: list[int], agents: list[tuple[str, tuple]], *, returning: float, seed: int):
        self.rng = random.Random(seed)
        self.site_ids, self.agents, self.returning = site_ids, agents, returning
        self.site_weights, self.agent_weights = _zipf(len(site_ids), 0.8), _zipf(len(agents))
        self.page_weights = _zipf(300)
        self.visitors: list[dict] = []

    def _new_visitor(self) -> dict:
        rng = self.rng
        user_agent, hints = rng.choices(self.agents, cum_weights=self.agent_weights)[0]
        visitor = {"site": rng.choices(self.site_ids, cum_weights=self.site_weights)[0],
                   "id": f"{rng.getrandbits(64):016x}", "ua": user_agent, "hints": hints,
                   "ip": f"{rng.randrange(1, 224)}.{rng.randrange(256)}.0.0", "ipd": secrets.token_hex(16),
                   "cc": rng.choice(COUNTRIES), "lang": rng.choice(LANGUAGES),
                   "res": rng.choice(("1920x1080", "1366x768", "390x844", "412x915", "2560x1440"))}
        self.visitors.append(visitor)
        return visitor

    def day(self, hits: int, *, start: float, seconds: float) -> list[dict]:
        """`hits` entries over `seconds` from `start` (epoch seconds), in time order."""
        rng, entries = self.rng, []
        for n in range(hits):
            visitor = (rng.choice(self.visitors) if self.visitors and rng.random() < self.returning
                       else self._new_visitor())
            page = rng.choices(range(300), cum_weights=self.page_weights)[0]
            params = {"idsite": str(visitor["site"]), "rec": "1", "_id": visitor["id"], "res": visitor["res"],
                      "url": f"https://site{visitor['site']}.example/p{page}", "action_name": f"Page {page}"}
            if referrer := rng.choice(REFERRERS):
                params["urlref"] = referrer
            if visitor["hints"]:
                params["uadata"] = _uadata(visitor["hints"])
            entries.append({"id": str(uuid.uuid4()), "t": visitor["site"], "at": start + seconds * n / hits,
                            "ip": visitor["ip"], "ipd": visitor["ipd"], "cc": visitor["cc"], "ua": visitor["ua"],
                            "lang": visitor["lang"], "p": params})
        return entries


def _uadata(hints: tuple) -> str:
    """The fixture's client-hint headers as the tracker's uadata would carry them (the text ones)."""
    import orjson

    names = {"Sec-CH-UA-Platform": "platform", "Sec-CH-UA-Platform-Version": "platformVersion",
             "Sec-CH-UA-Model": "model", "Sec-CH-UA-Full-Version": "uaFullVersion"}
    return orjson.dumps({names[h]: v.strip('"') for h, v in hints if h in names}).decode()
