"""The suppression guard: approved content is refused from the moment of approval, not of release.

Approval stores sha256 fingerprints of the items' normalised word n-grams and protected values (e-mail,
phone, street address); never the text, so the guard outlives the erasure of the texts. Each process
keeps an in-memory index and reloads it when a change counter in the shared cache (Redis) moves.
"""

import math
import re
import secrets
import threading
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import Count, Max

from palimpsest.hashing import sha256_hex
from palimpsest.ml.text import WORD, match_form
from requests_app.models import SuppressionFingerprint
from requests_app.screening.checks.personal import ADDRESS, DATE, EMAIL, PHONE

Kind = SuppressionFingerprint.Kind

NGRAM_WORDS = 5
# An item shorter than NGRAM_WORDS but at least this long is one n-gram; shorter ones give values only.
MIN_NGRAM_WORDS = 3
# Several shared 5-grams are needed before text counts as a copy: one alone is often a stock phrase,
# and records written from one template share a few (same employer, same towns): on the demo world at
# most 4 of a bio's ~65, about 6 in the worst case of the same job, employer and towns. So an item needs
# 15 % of its n-grams, at least 3, at most 7 (a copied passage of about 11 words), never more than it has.
NGRAM_HITS = 3
NGRAM_SHARE = 0.15
NGRAM_HITS_CAP = 7
STRONG_KINDS = frozenset({Kind.EMAIL, Kind.PHONE, Kind.ADDRESS})
VERSION_KEY = "palimpsest:guard:version"
EPOCH_KEY = "palimpsest:guard:epoch"
# The screening pattern wants capitalised street names; generated text is often lower case.
_ADDRESS_ANY_CASE = re.compile(ADDRESS.pattern, re.IGNORECASE | re.UNICODE)
_MIN_PHONE_DIGITS = 7
# Country code and trunk prefix vary ("+44 123 4567" and "0123 4567"): compare the last seven digits,
# the subscriber part; two different numbers share them about once in ten million.
_PHONE_TAIL = 7


@dataclass(frozen=True)
class Fingerprint:
    kind: str
    words: int
    sha256: str


@dataclass(frozen=True)
class GuardMatch:
    """Approved content found in a text: which request and item, by what kind of evidence."""

    request_id: int
    item_id: int | None
    kind: str
    hits: int


def ngram_hits_needed(group_size: int) -> int:
    """How many of an item's n-grams a text must share to count as a copy of it."""
    return min(group_size, max(NGRAM_HITS, min(NGRAM_HITS_CAP, math.ceil(NGRAM_SHARE * group_size))))


def _digest(value: str) -> str:
    # A deployment may set a secret pepper so that short values (phone numbers) cannot be brute-forced
    # from the table; it must never change once fingerprints exist.
    pepper = settings.PALIMPSEST_PEPPER
    return sha256_hex(f"palimpsest-guard/v1/{pepper}/{value}")


def _phone_key(raw: str) -> str | None:
    digits = re.sub(r"\D", "", raw)
    return digits[-_PHONE_TAIL:] if len(digits) >= _MIN_PHONE_DIGITS else None


def _words_and_anchors(text: str) -> tuple[list[str], list[bool]]:
    """The normalised words of `text`, each marked when it is distinctive: it holds a digit, or it is
    capitalised where a sentence does not start (a name, a place, a company)."""
    words, anchors = [], []
    previous_end = 0
    for match in WORD.finditer(text):
        token = match.group()
        gap = text[previous_end : match.start()]
        starts_sentence = previous_end == 0 or any(mark in gap for mark in ".!?:;\n")
        anchor = any(c.isdigit() for c in token) or (token[0].isupper() and not starts_sentence)
        for word in match_form(token).split():
            words.append(word)
            anchors.append(anchor)
        previous_end = match.end()
    return words, anchors


def item_fingerprints(text: str) -> tuple[list[Fingerprint], int]:
    """Fingerprints of one item, and how many distinct n-grams it has (its group size).

    Only n-grams that hold a distinctive word are kept: templated wording that many people's records
    share ("in his free time he enjoys") would otherwise make other people's texts look like copies.
    """
    words, anchors = _words_and_anchors(text)
    if len(words) >= NGRAM_WORDS:
        starts = range(len(words) - NGRAM_WORDS + 1)
        anchored = [i for i in starts if any(anchors[i : i + NGRAM_WORDS])]
        # An item with no distinctive word at all (lower-case prose) keeps every n-gram.
        ngrams = {" ".join(words[i : i + NGRAM_WORDS]) for i in (anchored or starts)}
    elif len(words) >= MIN_NGRAM_WORDS:
        ngrams = {" ".join(words)}
    else:
        ngrams = set()
    prints = {Fingerprint(Kind.NGRAM, len(g.split()), _digest(g)) for g in ngrams}
    for kind, pattern in ((Kind.EMAIL, EMAIL), (Kind.ADDRESS, _ADDRESS_ANY_CASE)):
        for value in pattern.findall(text):
            value_words = match_form(value).split()
            if value_words:
                prints.add(Fingerprint(kind, len(value_words), _digest(" ".join(value_words))))
    for raw in PHONE.findall(text):
        key = _phone_key(raw)
        if key:
            prints.add(Fingerprint(Kind.PHONE, 0, _digest(f"phone:{key}")))
    for value in DATE.findall(text):
        value_words = match_form(value).split()
        prints.add(Fingerprint(Kind.DATE, len(value_words), _digest(" ".join(value_words))))
    return sorted(prints, key=lambda p: (p.kind, p.sha256)), len(ngrams)


def name_fingerprint(name: str) -> Fingerprint | None:
    """The requester's full name; a single word is too common to mean anything."""
    words = match_form(name).split()
    return Fingerprint(Kind.NAME, len(words), _digest(" ".join(words))) if len(words) >= 2 else None


def guard_add_items(*, request_id: int, items: Iterable[tuple[int, str]], names: Iterable[str] = ()) -> int:
    """Store the fingerprints of approved items (id, text) and of the requester's names; other processes
    see them after commit. Call inside the approving transaction. Safe to run twice. Returns new rows.

    A name counts only together with a date or an n-gram of the same request: "<name> was born on <date>"
    is refused, a text that merely names the person is not.
    """
    # Name rows have no item, and NULLs never collide in the unique constraint: skip the ones stored.
    stored_names = set(
        SuppressionFingerprint.objects.filter(request_id=request_id, kind=Kind.NAME).values_list(
            "sha256", flat=True
        )
    )
    rows = [
        SuppressionFingerprint(
            request_id=request_id, kind=p.kind, words=p.words, group_size=1, sha256=p.sha256
        )
        for p in {name_fingerprint(name) for name in names} - {None}
        if p.sha256 not in stored_names
    ]
    for item_id, text in items:
        prints, group_size = item_fingerprints(text)
        rows += [
            SuppressionFingerprint(
                request_id=request_id,
                item_id=item_id,
                kind=p.kind,
                words=p.words,
                group_size=max(group_size, 1),
                sha256=p.sha256,
            )
            for p in prints
        ]
    before = SuppressionFingerprint.objects.filter(request_id=request_id).count()
    SuppressionFingerprint.objects.bulk_create(rows, ignore_conflicts=True)
    added = SuppressionFingerprint.objects.filter(request_id=request_id).count() - before
    # Indexes load new requests incrementally; rows added to a request they already hold need a full reload.
    full = before > 0 and added > 0
    transaction.on_commit(lambda: guard_changed(full=full))
    return added


def _cache_is_shared() -> bool:
    backend = settings.CACHES["default"]["BACKEND"]
    return not backend.endswith(("LocMemCache", "DummyCache"))


def guard_changed(*, full: bool = False) -> None:
    """Tell every process that the fingerprints changed (call after commit).

    `full` makes them reload everything; without it they load only the requests they do not hold yet.
    """
    if not _cache_is_shared():
        return  # the token is read from the table itself
    for key in (VERSION_KEY, EPOCH_KEY) if full else (VERSION_KEY,):
        try:
            cache.incr(key)
        except ValueError:
            # First change, or Redis lost the key: start from a random value so that no process can
            # mistake the new counter for the one it saw before.
            cache.add(key, secrets.randbits(48), timeout=None)


def _current_token() -> tuple:
    """(change counter, full-reload epoch): one cache round trip."""
    if _cache_is_shared():
        values = cache.get_many([VERSION_KEY, EPOCH_KEY])
        for key in (VERSION_KEY, EPOCH_KEY):
            if values.get(key) is None:
                cache.add(key, secrets.randbits(48), timeout=None)
                values[key] = cache.get(key)
        return values[VERSION_KEY], values[EPOCH_KEY]
    # Without a shared cache (the embedded mode) the table's own size and last id are the token.
    agg = SuppressionFingerprint.objects.aggregate(last=Max("id"), rows=Count("id"))
    return (agg["last"], agg["rows"]), None


@dataclass(frozen=True)
class _Entry:
    request_id: int
    item_id: int | None
    kind: str
    group_size: int


class GuardIndex:
    """An in-memory copy of the fingerprint table, brought up to date whenever the shared token changes.

    All fingerprints of a request are written by one transaction (its approval), so a request is either
    wholly visible or not at all: an update loads only the requests this copy does not hold yet, which
    keeps the time from approval to refusal short however large the table grows.
    """

    _UNLOADED = object()

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._token = self._UNLOADED
        self._by_hash: dict[str, list[_Entry]] = {}
        self._word_counts: set[int] = set()
        self._requests: set[int] = set()
        self.reloads = 0

    def reset(self) -> None:
        with self._lock:
            self._token = self._UNLOADED

    def refresh(self) -> None:
        # The token is read before the rows: a change committed in between leaves a newer token
        # behind, so the next check updates again instead of missing it.
        token = _current_token()
        if token == self._token:
            return
        with self._lock:
            full = self._token is self._UNLOADED or token[1] != self._token[1]
            if full:
                self._by_hash, self._word_counts, self._requests = {}, set(), set()
                self._load(SuppressionFingerprint.objects.all())
            else:
                present = set(
                    SuppressionFingerprint.objects.order_by().values_list("request_id", flat=True).distinct()
                )
                new, gone = present - self._requests, self._requests - present
                if gone:  # a request was deleted: drop its entries
                    self._by_hash = {
                        sha: kept
                        for sha, entries in self._by_hash.items()
                        if (kept := [e for e in entries if e.request_id not in gone])
                    }
                    self._requests -= gone
                ids = sorted(new)
                for start in range(0, len(ids), 1000):
                    self._load(
                        SuppressionFingerprint.objects.filter(request_id__in=ids[start : start + 1000])
                    )
            self._token = token
            self.reloads += 1

    def _load(self, queryset) -> None:
        rows = queryset.order_by().values_list(
            "sha256", "kind", "words", "group_size", "request_id", "item_id"
        )
        for sha, kind, words, group_size, request_id, item_id in rows.iterator(chunk_size=5000):
            self._by_hash.setdefault(sha, []).append(_Entry(request_id, item_id, kind, group_size))
            self._requests.add(request_id)
            if words:
                self._word_counts.add(words)

    def match(self, text: str) -> list[GuardMatch]:
        with self._lock:
            return self._match(text)

    def _match(self, text: str) -> list[GuardMatch]:
        by_hash, word_counts = self._by_hash, self._word_counts
        if not by_hash:
            return []
        words = match_form(text).split()
        candidates = set()
        for n in word_counts:
            candidates.update(_digest(" ".join(words[i : i + n])) for i in range(len(words) - n + 1))
        for raw in PHONE.findall(text):
            key = _phone_key(raw)
            if key:
                candidates.add(_digest(f"phone:{key}"))
        strong: dict[tuple[int, int | None, str], int] = defaultdict(int)
        ngram_hits: dict[tuple[int, int | None], int] = defaultdict(int)
        group_sizes: dict[tuple[int, int | None], int] = {}
        named: set[int] = set()
        beside_name: dict[int, int] = defaultdict(int)  # dates and n-grams per request
        for sha in candidates:
            for entry in by_hash.get(sha, ()):
                if entry.kind in STRONG_KINDS:
                    strong[(entry.request_id, entry.item_id, entry.kind)] += 1
                elif entry.kind == Kind.NAME:
                    named.add(entry.request_id)
                else:
                    beside_name[entry.request_id] += 1
                    if entry.kind == Kind.NGRAM:
                        key = (entry.request_id, entry.item_id)
                        ngram_hits[key] += 1
                        group_sizes[key] = entry.group_size
        found = [GuardMatch(r, i, k, hits) for (r, i, k), hits in strong.items()]
        found += [
            GuardMatch(r, i, Kind.NGRAM, hits)
            for (r, i), hits in ngram_hits.items()
            if hits >= ngram_hits_needed(group_sizes[(r, i)])
        ]
        found += [GuardMatch(r, None, Kind.NAME, beside_name[r]) for r in named if beside_name[r]]
        return sorted(found, key=lambda m: (m.request_id, m.item_id or 0, m.kind))

    def check(self, text: str) -> list[GuardMatch]:
        self.refresh()
        return self.match(text)


_INDEX = GuardIndex()


def guard_check(text: str) -> list[GuardMatch]:
    """Approved content found in `text` (empty when the text may pass). One cache read when nothing changed."""
    return _INDEX.check(text)


def guard_reset_local() -> None:
    """Forget this process's copy (tests, and after a database restore); the next check reloads."""
    _INDEX.reset()
