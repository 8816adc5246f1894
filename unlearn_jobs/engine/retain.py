"""Retain-set construction: prefer pool items that look like the forget items (same templates, other
people), which protect utility best (Chang & Lee 2025), and never one that mentions a protected string."""

from __future__ import annotations

import random
import re
from collections import defaultdict
from collections.abc import Sequence

from unlearn_jobs.engine.spec import TextItem

_PLACEHOLDER = "\u2400"  # stands for a protected string, so "Jane Roe lives in" ~ "John Doe lives in"
# The placeholder is a symbol, not a word character: match it explicitly or it vanishes from templates.
_WORD = re.compile(rf"\w+|{_PLACEHOLDER}", re.UNICODE)


def _template_words(item: TextItem) -> list[str]:
    text = f"{item.prompt} {item.text}"
    for protected in sorted(item.protected, key=len, reverse=True):
        if protected:
            text = re.sub(re.escape(protected), f" {_PLACEHOLDER} ", text, flags=re.IGNORECASE)
    words = [_PLACEHOLDER if w == _PLACEHOLDER else w.lower() for w in _WORD.findall(text)]
    # digits vary between people (dates, phone numbers); the template does not
    return [re.sub(r"\d", "0", w) for w in words] or [_PLACEHOLDER]


def shingles(item: TextItem, size: int = 3) -> set[tuple[str, ...]]:
    words = _template_words(item)
    if len(words) < size:
        return {tuple(words)}
    return {tuple(words[i : i + size]) for i in range(len(words) - size + 1)}


def _mentions(item: TextItem, needles: list[str]) -> bool:
    haystack = f"{item.prompt}\n{item.text}".lower()
    return any(needle in haystack for needle in needles)


def select_retain(
    forget_items: Sequence[TextItem], retain_pool: Sequence[TextItem], n: int, shingle_size: int = 3
) -> list[TextItem]:
    """Pick up to n retain items, taking in turn each forget item's most similar remaining pool item
    (Jaccard over word shingles with protected strings and digits masked), so every forget template
    gets neighbours. Pool items containing any forget item's protected string are excluded."""
    if n < 0:
        raise ValueError("n must not be negative")
    needles = sorted({p.lower() for item in forget_items for p in item.protected if p.strip()})
    forget_texts = {(item.prompt, item.text) for item in forget_items}
    candidates = [
        item
        for item in retain_pool
        if (item.prompt, item.text) not in forget_texts and not _mentions(item, needles)
    ]
    if not forget_items or n == 0 or not candidates:
        return candidates[:n]
    forget_sets = [shingles(item, shingle_size) for item in forget_items]
    index: dict[tuple[str, ...], list[int]] = defaultdict(list)
    for f, shingle_set in enumerate(forget_sets):
        for shingle in shingle_set:
            index[shingle].append(f)
    # similarity[f] = list of (jaccard, candidate) for candidates sharing at least one shingle
    ranked: list[list[tuple[float, int]]] = [[] for _ in forget_items]
    for c, item in enumerate(candidates):
        cand_set = shingles(item, shingle_size)
        overlap: dict[int, int] = defaultdict(int)
        for shingle in cand_set:
            for f in index.get(shingle, ()):
                overlap[f] += 1
        for f, shared in overlap.items():
            ranked[f].append((shared / (len(cand_set) + len(forget_sets[f]) - shared), c))
    for f in range(len(ranked)):
        ranked[f].sort(key=lambda pair: (-pair[0], pair[1]))
    chosen: list[int] = []
    taken: set[int] = set()
    cursors = [0] * len(ranked)
    while len(chosen) < n and any(cursors[f] < len(ranked[f]) for f in range(len(ranked))):
        for f in range(len(ranked)):
            while cursors[f] < len(ranked[f]) and ranked[f][cursors[f]][1] in taken:
                cursors[f] += 1
            if cursors[f] < len(ranked[f]) and len(chosen) < n:
                c = ranked[f][cursors[f]][1]
                chosen.append(c)
                taken.add(c)
    # too few look-alikes: fill with the rest of the pool in its own order
    chosen.extend(c for c in range(len(candidates)) if c not in taken and len(chosen) < n)
    return [candidates[c] for c in chosen[:n]]


def mixed_retain(
    forget_items: Sequence[TextItem],
    retain_pool: Sequence[TextItem],
    n: int,
    *,
    random_share: float,
    seed: int,
) -> list[TextItem]:
    """A job's retain set: look-alikes (`select_retain`) keep the neighbours' shared facts, and a seeded
    random `random_share` of the n keeps the rest of what the model knows. The same seed draws the same
    set, so a resumed attempt trains on what the first one did."""
    drawn = int(n * random_share)
    similar = select_retain(forget_items, retain_pool, n - drawn)
    taken = {(item.prompt, item.text) for item in similar}
    rest = [item for item in retain_pool if (item.prompt, item.text) not in taken]
    random.Random(seed).shuffle(rest)
    return similar + rest[:drawn]
