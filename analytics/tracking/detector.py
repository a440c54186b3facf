"""device-detector, giving its own answers at a fraction of its cost for a user agent it has not seen.

Why: for an unseen agent, device-detector walks its rule lists in order (about 5,000 brand, client
and OS patterns: some 1,300 searches per agent), and the `regex` module compiles each pattern, in
Python, the first time it is tried. That was about 10 ms per new agent, most of a cold ingest
(docs/benchmarks.md, tracking), and every browser release makes every agent new again.

How: `install()` screens the library's own rule lists, in place, once per process.
- For each list, the literals one of which any match of a pattern must contain (`required_literals`,
  read from the pattern's syntax tree) go into one Aho-Corasick automaton: one pass over the
  lower-cased agent names the handful of patterns that can match at all.
- A candidate is then tried with RE2 (compiled in C++ in microseconds, searching in linear time;
  printable ASCII agents only, where RE2's classes and anchors read as `regex`'s do).
  Only a pattern RE2 finds is compiled and run by `regex`, whose match object the library reads
  (captures, substitutions). RE2 cannot run lookarounds: for such a pattern it runs the pattern
  without them, which matches a superset, and `regex` decides.
Compiled patterns are kept only for the patterns used last (RE2_KEPT, REGEX_KEPT; those
compile_rules compiles at start-up, which every parse walks, stay): a brand's thousands of device
models are compiled as agents of theirs come, and when all were kept a worker grew by about 20 MB
per 1,000 new agents without end (578 MB more after device-detector's 38,000 fixture agents, 3/4
of it RE2's; found by the soak, docs/reliability.md).
The library's own code does the rest unchanged: same lists, same order, first match wins. A screen
may only let too much through, never too little, so results stay the library's; the agreement with
an unscreened parse is measured over the library's whole fixture set (bench/agents.py) and on a
sample in the test suite.
"""
import re
import re._constants as sre
import re._parser as sre_parse
import threading
from collections import OrderedDict

import ahocorasick_rs
import re2

_LOOKAROUND = ("(?=", "(?!", "(?<=", "(?<!")
_installed = False
_install_lock = threading.Lock()
# Compiled forms kept (see the module's docstring), each for the patterns used last: RE2's (cheap
# to compile again, about 18 kB each) and `regex`'s beyond compile_rules' (costly, about 9 kB each).
# Over device-detector's 38,258 fixture agents in one process (each a device of its own, the worst
# case): 412 MB at the end instead of 786 MB, 1.23 ms an agent instead of 1.08
# (bench/agents_memory.py); keeping 3,000 RE2 and 5,000 regex forms cut memory further (341 MB)
# but cost 1.7 ms an agent.
RE2_KEPT, REGEX_KEPT = 6000, 3000
_re2_kept: OrderedDict = OrderedDict()  # the stand-ins holding one, the least recently used first
_regex_kept: OrderedDict = OrderedDict()
_compiled_lock = threading.Lock()


def _forget_re2(stand_in) -> None:
    stand_in._re2, stand_in._re2_ready = None, False


def _forget_regex(stand_in) -> None:
    object.__setattr__(stand_in._lazy, "compiled", None)


def _without_lookarounds(pattern: str) -> str:
    """The pattern with its lookaround groups removed: a superset of its matches, which RE2 can run."""
    out, i, n = [], 0, len(pattern)
    while i < n:
        if pattern.startswith(_LOOKAROUND, i):
            depth, in_class, j = 0, False, i
            while j < n:
                char = pattern[j]
                if char == "\\":
                    j += 2
                    continue
                if in_class:
                    in_class = char != "]"
                elif char == "[":
                    in_class = True
                elif char == "(":
                    depth += 1
                elif char == ")":
                    depth -= 1
                    if depth == 0:
                        break
                j += 1
            i = j + 1
        elif pattern[i] == "\\":
            out.append(pattern[i:i + 2])
            i += 2
        else:
            out.append(pattern[i])
            i += 1
    return "".join(out)


def _most_selective(requirements: list[frozenset]) -> frozenset | None:
    """Of several requirements that all hold, the one that screens best: longest shortest literal."""
    known = [r for r in requirements if r]
    return max(known, key=lambda r: (min(map(len, r)), -len(r))) if known else None


def _requirement(items) -> frozenset | None:
    """Lower-case ASCII literals one of which every match of this sequence contains; None when the
    syntax promises none (the pattern must then always be tried)."""
    found, run = [], []

    def end_run():
        if run:
            found.append(frozenset(["".join(run)]))
            run.clear()

    for op, argument in items:
        if op is sre.LITERAL and argument < 128:
            run.append(chr(argument).lower())
            continue
        end_run()
        if op is sre.SUBPATTERN:
            found.append(_requirement(argument[-1]))
        elif op is sre.ATOMIC_GROUP:
            found.append(_requirement(argument))
        elif op in (sre.MAX_REPEAT, sre.MIN_REPEAT, sre.POSSESSIVE_REPEAT) and argument[0] >= 1:
            found.append(_requirement(argument[2]))
        elif op is sre.BRANCH:
            branches = [_requirement(branch) for branch in argument[1]]
            if all(branches):
                found.append(frozenset().union(*branches))
        # anything else (classes, anchors, lookarounds, optional parts) promises no literal
    end_run()
    return _most_selective(found)


def required_literals(pattern: str) -> frozenset | None:
    """Literals (lower case) one of which any match of `pattern` contains, or None if unknown.

    Read with Python's own `re` parser, which reads device-detector's patterns as `regex` does
    (those it cannot read are simply always tried). Case is ignored: the text is lower-cased too."""
    try:
        return _requirement(list(sre_parse.parse(pattern, 0)))
    except (re.error, RecursionError, OverflowError):
        return None


class _Screen:
    """One rule list's screen: which of its patterns can match a text (one Aho-Corasick pass)."""

    __slots__ = ("_automaton", "_patterns_of", "_always", "_last")

    def __init__(self, patterns: list[str]):
        by_literal, always = {}, set()
        for index, pattern in enumerate(patterns):
            literals = required_literals(pattern)
            if not literals:
                always.add(index)
            for literal in literals or ():
                by_literal.setdefault(literal, set()).add(index)
        self._always = frozenset(always)
        literals = list(by_literal)
        self._automaton = ahocorasick_rs.AhoCorasick(literals) if literals else None
        self._patterns_of = [frozenset(by_literal[literal]) for literal in literals]
        self._last = (None, frozenset())

    def candidates(self, text: str) -> frozenset:
        last_text, last = self._last  # the library tries one text against a whole list in a row
        if text == last_text:
            return last
        found = set(self._always)
        if self._automaton is not None:
            patterns_of = self._patterns_of
            lowered = text.lower() if text.isascii() else text.lower().replace("ſ", "s")  # NB: `regex` folds ſ to s
            for literal in {match[0] for match in self._automaton.find_matches_as_indexes(lowered, overlapping=True)}:
                found |= patterns_of[literal]
        found = frozenset(found)
        self._last = (text, found)
        return found


_UNANCHORED, _NO_MATCH = re2._Anchor.UNANCHORED, re2._NULL_SPAN
_encoded = (None, b"")  # the last text searched, as UTF-8: the library tries one text against many patterns


def _utf8(text: str) -> bytes:
    global _encoded
    last_text, last = _encoded
    if text is not last_text and text != last_text:
        last = text.encode("utf-8", "surrogatepass")
        _encoded = (text, last)
    return last


class _Screened:
    """Stands in the library's list for one of its lazily compiled patterns (RegexLazy)."""

    __slots__ = ("_lazy", "_screen", "_index", "_re2", "_re2_ready", "_pinned")

    def __init__(self, lazy, screen: _Screen | None, index: int):
        self._lazy, self._screen, self._index = lazy, screen, index
        self._re2, self._re2_ready, self._pinned = None, False, False

    def _tried(self, kept: OrderedDict, most: int, forget) -> None:
        """Count this pattern's compiled form in `kept` as used now; past `most`, the least recently
        used ones are forgotten (compiled again if they are ever tried again)."""
        with _compiled_lock:
            if self in kept:
                kept.move_to_end(self)
                return
            kept[self] = None
            oldest = [kept.popitem(last=False)[0] for _ in range(len(kept) - most)]
        for stand_in in oldest:
            forget(stand_in)

    def _fast(self):
        """The pattern compiled by RE2 (without captures: only whether it matches), on first use;
        None when RE2 cannot read it."""
        if not self._re2_ready:
            pattern = object.__getattribute__(self._lazy, "pattern")  # NB: RegexLazy hides it until compiled
            options = re2.Options()
            options.case_sensitive = not object.__getattribute__(self._lazy, "flags") & re.IGNORECASE
            options.never_capture = True
            options.log_errors = False
            try:
                # NB: the compiled object's own Match, not re2.search: the wrapper's generator and
                # offset bookkeeping cost 4 µs a call, the search itself under 1 µs.
                self._re2 = re2.compile(_without_lookarounds(pattern), options)._regexp
            except re2.error:
                self._re2 = None
            self._re2_ready = True
        return self._re2

    def search(self, text, *args, **kwargs):
        if not args and not kwargs and isinstance(text, str):
            if self._screen is not None and self._index not in self._screen.candidates(text):
                return None
            self._tried(_re2_kept, RE2_KEPT, _forget_re2)
            # NB: RE2's \d, \w, \s, \b are ASCII-only and its $ never matches before a final
            # newline: it only answers for printable ASCII text, where it reads as `regex` does.
            fast = self._fast() if text.isascii() and text.isprintable() else None
            if fast is not None:
                encoded = _utf8(text)
                if fast.Match(_UNANCHORED, encoded, 0, len(encoded))[0] == _NO_MATCH:
                    return None
        if not self._pinned:
            self._tried(_regex_kept, REGEX_KEPT, _forget_regex)
        return self._lazy.search(text, *args, **kwargs)

    def __getattr__(self, name):
        return getattr(self._lazy, name)


def _screen_list(lazies: list) -> list:
    """Screened stand-ins for a list's patterns, in its order (a screen only for lists worth one)."""
    patterns = [object.__getattribute__(lazy, "pattern") for lazy in lazies]
    screen = _Screen(patterns) if len(patterns) >= 8 else None
    return [_Screened(lazy, screen, index) for index, lazy in enumerate(lazies)]


# id(the library's cached rule list) → (the list, its screen): see `_filtered`.
_list_screens: dict[int, tuple[list, _Screen]] = {}


def _screen_entries(entries: list[dict]) -> None:
    """Screen a list of rule entries in place: their 'regex' together, and each entry's own
    'models' and 'versions' lists (a brand's models are tried in a row once the brand matched)."""
    from device_detector.lazy_regex import RegexLazy

    if entries and all(isinstance(entry.get("regex"), RegexLazy) for entry in entries):
        screened = _screen_list([entry["regex"] for entry in entries])
        for entry, stand_in in zip(entries, screened, strict=True):
            entry["regex"] = stand_in
        if screened[0]._screen is not None:
            _list_screens[id(entries)] = (entries, screened[0]._screen)
    for entry in entries:
        for key in ("models", "versions"):
            subs = [sub for sub in entry.get(key) or () if isinstance(sub.get("regex"), RegexLazy)]
            for sub, screened in zip(subs, _screen_list([sub["regex"] for sub in subs]), strict=True):
                sub["regex"] = screened


def _filtered(entries: list, parser) -> list:
    """What a parser walks of a rule list: only the entries that can match its agent, in order.

    The library walks its lists in Python, an iteration per entry whatever the screen says (most
    of what a screened parse cost). With client hints naming a model, the device parser also tries
    every entry's models against that model: it gets the whole list."""
    screened = _list_screens.get(id(entries))
    hints = getattr(parser, "client_hints", None)
    if screened is None or screened[0] is not entries or (hints is not None and hints.model):
        return entries
    candidates = screened[1].candidates(parser.user_agent)
    return [entries[index] for index in sorted(candidates)]


def _filtering(prop: property) -> property:
    return property(lambda parser: _filtered(prop.fget(parser), parser))


def compile_rules() -> int:
    """Compile, now, every pattern of the rule lists a parse walks first (not the thousands of
    device models, tried only once their brand matched); returns how many.

    Why: `regex` compiles a pattern in Python the first time it runs, 0.2–2 ms each: a worker's
    first hour of traffic paid it hit by hit (a fresh process read its first 300 new agents at
    4 ms each, then 1.8 ms). Paid once at start-up instead, before the pool forks, so every child
    shares them (about 2.5 s)."""
    install()
    compiled = 0
    for entries, _screen in list(_list_screens.values()):
        for entry in entries:
            stand_ins = [entry["regex"], *(sub["regex"] for sub in entry.get("versions") or ())]
            for stand_in in stand_ins:
                # NB: object.__getattribute__: RegexLazy compiles when its `compiled` is read
                if isinstance(stand_in, _Screened) and object.__getattribute__(stand_in._lazy, "compiled") is None:
                    stand_in._lazy.search("")  # RegexLazy compiles on first use
                    stand_in._pinned = True
                    compiled += 1
    return compiled


def _parser_classes(root) -> list:
    classes, todo = [], [root]
    while todo:
        cls = todo.pop()
        classes.append(cls)
        todo.extend(cls.__subclasses__())
    return classes


def install() -> None:
    """Screen every rule list device-detector walks (once per process; safe to call again)."""
    global _installed
    if _installed:  # NB: called before every parse: no lock once done
        return
    with _install_lock:
        if _installed:
            return
        from device_detector import yaml_loader
        from device_detector.parser.device import television, vendor_fragment
        from device_detector.parser.os_fragment import os_regex_list
        from device_detector.parser.parser import Parser

        fixture_sets = {tuple(cls.fixture_files) for cls in _parser_classes(Parser) if getattr(cls, "fixture_files", ())}
        for fixture_files in sorted(fixture_sets):
            _screen_entries(yaml_loader.regex_list(fixture_files))  # NB: the library's cached list, changed in place
        _screen_entries(television._regex_list())
        # Fragments: a list of entries each with several patterns, walked as one list.
        for entries in (os_regex_list(), vendor_fragment.vendor_regex_list()):
            flat = [lazy for entry in entries for lazy in entry["regexes"]]
            screened = iter(_screen_list(flat))
            for entry in entries:
                entry["regexes"] = [next(screened) for _ in entry["regexes"]]
        # Each class that says where its list is (RegexLoader.regex_list, HbbTv's own) now says
        # which part of it to walk.
        for cls in {Parser.__mro__[1], *_parser_classes(Parser)}:
            if isinstance(cls.__dict__.get("regex_list"), property):
                cls.regex_list = _filtering(cls.__dict__["regex_list"])
        _installed = True
