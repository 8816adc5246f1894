"""Exact (sha256) and near-duplicate (MinHash over 5-word shingles, LSH 14 bands x 8 rows) detection."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from datasketch import MinHash

from palimpsest.hashing import sha256_hex
from palimpsest.ml.text import WORD
from palimpsest.ml.text import words as word_tokens

SHINGLE_WORDS = 5
BANDS = 14
ROWS = 8
NUM_PERM = BANDS * ROWS
# (1/14)^(1/8) ~ 0.72: the Jaccard similarity at which a pair has even odds of sharing a band.
NEAR_DUPLICATE_JACCARD = 0.72
_SEED = 1
# One template of permutations for the process: MinHash(seed=...) rebuilds them on every call otherwise.
_SCHEME = "affine32"
_TEMPLATE = MinHash(num_perm=NUM_PERM, seed=_SEED, scheme=_SCHEME)


def shingles(text: str, size: int = SHINGLE_WORDS) -> set[bytes]:
    """Lower-cased word 5-grams; a text shorter than that is one shingle of all its words."""
    words = word_tokens(text)
    if len(words) <= size:
        return {" ".join(words).encode("utf-8")}
    return {" ".join(words[i : i + size]).encode("utf-8") for i in range(len(words) - size + 1)}


def minhash_signature(text: str) -> np.ndarray:
    """112 uint32 MinHash values of the text's shingles (same text, same signature, in any process)."""
    mh = MinHash(num_perm=NUM_PERM, seed=_SEED, permutations=_TEMPLATE.permutations, scheme=_SCHEME)
    mh.update_batch(list(shingles(text)))
    return mh.hashvalues.astype(np.uint32)


def band_keys(signature: np.ndarray) -> list[int]:
    """One signed 64-bit key per band (fits a bigint column); equal keys = the band's 8 rows agree."""
    keys = []
    for band in range(BANDS):
        rows = np.ascontiguousarray(signature[band * ROWS : (band + 1) * ROWS]).tobytes()
        digest = hashlib.blake2b(rows, digest_size=8, person=b"palimpsest-lsh").digest()
        keys.append(int.from_bytes(digest, "big", signed=True))
    return keys


def estimated_jaccard(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.mean(a == b))


def signature_bytes(signature: np.ndarray) -> bytes:
    return np.asarray(signature, dtype="<u4").tobytes()


def signature_from_bytes(raw: bytes) -> np.ndarray:
    return np.frombuffer(raw, dtype="<u4").astype(np.uint32)


@dataclass(frozen=True)
class ItemRef:
    """Where a duplicate lives: an item of an earlier request (or of this one)."""

    item_id: int | str
    request_id: int | str | None = None
    request_status: str = ""
    # Who filed that request (`requester_key`): a repeat of one's own request is told from someone else's
    # copy of the same words. Empty: unknown (a minimised request), never taken for the same requester.
    requester: str = ""


def requester_key(email: str, digest: Callable[[str], str] = sha256_hex) -> str:
    """The digest of a requester's e-mail (case and surrounding spaces ignored); empty without one."""
    email = email.strip().casefold()
    return digest(f"requester:{email}") if email else ""


@dataclass(frozen=True)
class IndexedItem:
    ref: ItemRef
    sha256: str
    signature: np.ndarray


class DuplicateIndex(Protocol):
    """Earlier requests' items; the Django side implements it over the persisted index."""

    def exact(self, sha256s: Sequence[str]) -> dict[str, list[ItemRef]]: ...

    def candidates(self, keys_per_item: Sequence[list[int]]) -> list[IndexedItem]: ...


class InMemoryIndex:
    """A DuplicateIndex held in memory (benchmarks, tests, one batch of requests), looked up by key."""

    def __init__(self) -> None:
        self._by_sha: dict[str, list[IndexedItem]] = defaultdict(list)
        self._by_band: dict[tuple[int, int], list[IndexedItem]] = defaultdict(list)

    def add(self, ref: ItemRef, text: str) -> None:
        self.add_indexed(IndexedItem(ref, sha256_hex(text), minhash_signature(text)))

    def add_indexed(self, item: IndexedItem, keys: list[int] | None = None) -> None:
        self._by_sha[item.sha256].append(item)
        for band, key in enumerate(band_keys(item.signature) if keys is None else keys):
            self._by_band[band, key].append(item)

    def exact(self, sha256s: Sequence[str]) -> dict[str, list[ItemRef]]:
        return {d: [item.ref for item in self._by_sha[d]] for d in set(sha256s) if d in self._by_sha}

    def candidates(self, keys_per_item: Sequence[list[int]]) -> list[IndexedItem]:
        found = [
            item
            for keys in keys_per_item
            for band, key in enumerate(keys)
            for item in self._by_band.get((band, key), ())
        ]
        return _unique(found, key=lambda item: item.ref)


@dataclass
class CombinedIndex:
    """Several indexes read as one; an item that two of them hold is reported once."""

    parts: Sequence[DuplicateIndex]

    def exact(self, sha256s: Sequence[str]) -> dict[str, list[ItemRef]]:
        found: dict[str, list[ItemRef]] = {}
        for part in self.parts:
            for digest, refs in part.exact(sha256s).items():
                found.setdefault(digest, []).extend(refs)
        return {digest: _unique(refs, key=lambda r: r) for digest, refs in found.items()}

    def candidates(self, keys_per_item: Sequence[list[int]]) -> list[IndexedItem]:
        found = [item for part in self.parts for item in part.candidates(keys_per_item)]
        return _unique(found, key=lambda item: item.ref)


def _unique(values: list, *, key) -> list:
    """First occurrence of each (item id, request id)."""
    seen, out = set(), []
    for value in values:
        ref = key(value)
        if (ref.item_id, ref.request_id) not in seen:
            seen.add((ref.item_id, ref.request_id))
            out.append(value)
    return out


@dataclass(frozen=True)
class NearDuplicate:
    ref: ItemRef
    jaccard: float


@dataclass
class DuplicateFindings:
    """Per item of the request, in order."""

    sha256: list[str]
    signatures: list[np.ndarray]
    band_keys: list[list[int]]
    exact_in_request: list[int | None]  # index of the first identical item earlier in the request
    near_in_request: list[list[tuple[int, float]]]  # (earlier index, estimated Jaccard)
    exact_earlier: list[list[ItemRef]]
    near_earlier: list[list[NearDuplicate]]


def find_duplicates(
    texts: Sequence[str],
    *,
    earlier: DuplicateIndex | None = None,
    threshold: float = NEAR_DUPLICATE_JACCARD,
    digest: Callable[[str], str] = sha256_hex,
) -> DuplicateFindings:
    """Exact and near duplicates inside the request and against the earlier requests' index.

    `digest` must be the hash the index's items are stored under (the Django side keys it with the pepper).
    """
    hashes = [digest(t) for t in texts]
    signatures = [minhash_signature(t) for t in texts]
    keys = [band_keys(s) for s in signatures]
    first_seen: dict[str, int] = {}
    exact_in: list[int | None] = []
    for i, digest in enumerate(hashes):
        exact_in.append(first_seen.get(digest))
        first_seen.setdefault(digest, i)
    buckets: dict[tuple[int, int], list[int]] = defaultdict(list)
    for i, item_keys in enumerate(keys):
        for band, key in enumerate(item_keys):
            buckets[(band, key)].append(i)
    # A text without a single word (symbols only) has one empty shingle, the same for all such texts:
    # no near-duplicate claim is made for it (exact copies are still found by hash).
    has_words = [WORD.search(t) is not None for t in texts]
    near_in: list[list[tuple[int, float]]] = [[] for _ in texts]
    for i in range(len(texts)):
        if not has_words[i]:
            continue
        partners = {j for band, key in enumerate(keys[i]) for j in buckets[(band, key)] if j < i}
        for j in sorted(partners):
            if hashes[i] == hashes[j] or exact_in[j] is not None:
                continue  # exact duplicates are reported once, against their first occurrence
            jac = estimated_jaccard(signatures[i], signatures[j])
            if jac >= threshold:
                near_in[i].append((j, round(jac, 3)))
    exact_earlier: list[list[ItemRef]] = [[] for _ in texts]
    near_earlier: list[list[NearDuplicate]] = [[] for _ in texts]
    if earlier is not None and texts:
        by_hash = earlier.exact(hashes)
        exact_earlier = [list(by_hash.get(h, [])) for h in hashes]
        for candidate in earlier.candidates(keys):
            for i in _sharing_a_band(band_keys(candidate.signature), keys):
                if candidate.sha256 == hashes[i] or not has_words[i]:
                    continue
                jac = estimated_jaccard(signatures[i], candidate.signature)
                if jac >= threshold:
                    near_earlier[i].append(NearDuplicate(candidate.ref, round(jac, 3)))
    return DuplicateFindings(hashes, signatures, keys, exact_in, near_in, exact_earlier, near_earlier)


def _sharing_a_band(candidate_keys: list[int], keys: Iterable[list[int]]) -> list[int]:
    return [
        i
        for i, item_keys in enumerate(keys)
        if any(a == b for a, b in zip(candidate_keys, item_keys, strict=True))
    ]
