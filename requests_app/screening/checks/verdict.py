"""Verdicts a compliance officer can read: per item (keep or exclude, with reasons) and per request (risk)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

KEEP, EXCLUDE = "keep", "exclude"
LOW, MEDIUM, HIGH = "low", "medium", "high"

# Flag codes, stored with each item; the text is what the officer reads.
DUPLICATE = "duplicate"
DUPLICATE_EARLIER = "duplicate_earlier"
NEAR_DUPLICATE_EARLIER = "near_duplicate_earlier"
COPY_OF_OTHER_REQUEST = "copy_of_other_request"  # the same text in another requester's live request
LOW_QUALITY = "low_quality"
NOT_ABOUT_REQUESTER = "not_about_requester"
UTILITY_CONFLICT = "utility_conflict"
PADDING = "padding"
NO_EVIDENCE = "no_evidence"
MISATTRIBUTED = "misattributed"
DAMAGE = "damage"
OUTLIER = "outlier"

# Signs of a poisoned or mistaken submission (as opposed to bookkeeping such as duplicates).
POISON_FLAGS = frozenset({LOW_QUALITY, NOT_ABOUT_REQUESTER, UTILITY_CONFLICT, PADDING, MISATTRIBUTED})
# Flags that remove an item from the forget set: not the requester's data, poison, or a repeat. "No
# evidence" is not one of them: an item about the requester that the model shows no sign of holding is
# still forgotten (guarded and verified), only left out of training.
EXCLUDING_FLAGS = POISON_FLAGS | {DUPLICATE, DUPLICATE_EARLIER}
# Attack signatures: one such item is enough to call the whole request high risk.
ATTACK_FLAGS = frozenset({UTILITY_CONFLICT, PADDING})
HIGH_POISON_SHARE = 0.25


@dataclass
class ItemFlags:
    codes: list[str] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)

    def add(self, code: str, reason: str) -> None:
        self.codes.append(code)
        self.reasons.append(reason)

    @property
    def verdict(self) -> str:
        return EXCLUDE if any(code in EXCLUDING_FLAGS for code in self.codes) else KEEP

    @property
    def poison(self) -> bool:
        return any(code in POISON_FLAGS for code in self.codes)


@dataclass(frozen=True)
class RequestVerdict:
    risk: str
    reasons: list[str]
    recommended_action: str


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def request_verdict(flags: Sequence[ItemFlags], *, coreset_size: int, pruned: int) -> RequestVerdict:
    n = len(flags)
    if n == 0:
        return RequestVerdict(
            HIGH,
            ["The request holds no items to screen."],
            "Ask the requester what should be forgotten (needs more information).",
        )
    counts = Counter(code for f in flags for code in set(f.codes))
    poison_items = sum(1 for f in flags if f.poison)
    excluded = sum(1 for f in flags if f.verdict == EXCLUDE)
    reasons: list[str] = []
    readable = {
        LOW_QUALITY: "do not read as genuine text (gibberish, repetition or symbols)",
        NOT_ABOUT_REQUESTER: "do not mention the requester's name, e-mail or identifiers: they may be about someone else",
        UTILITY_CONFLICT: "are close to knowledge the model must keep (evaluation suite, general facts)",
        PADDING: "are padded with very common words (a known way to make a model feign ignorance)",
        MISATTRIBUTED: "state facts the model ties to someone else, not to the requester",
        NO_EVIDENCE: "show no sign that the published model holds them: forgotten and verified, not trained on",
        DUPLICATE: "repeat another item of this request",
        DUPLICATE_EARLIER: "are already in an earlier request of the requester, which forgets them",
        NEAR_DUPLICATE_EARLIER: "are near-copies of items of earlier requests",
        COPY_OF_OTHER_REQUEST: "are word for word in another requester's request: check that they are about this requester",
        DAMAGE: "would, if unlearned, pull strongly against what the model must keep (gradient conflict)",
    }
    for code, text in readable.items():
        if counts[code]:
            reasons.append(f"{_plural(counts[code], 'item')} of {n} {text}.")
    if pruned:
        reasons.append(
            f"{_plural(pruned, 'outlying item')} left out of the training coreset (still verified afterwards)."
        )
    if coreset_size == 0 and excluded == n:
        reasons.insert(0, "Nothing in this request qualifies for unlearning: the coreset is empty.")
        return RequestVerdict(
            HIGH,
            reasons,
            "Do not unlearn this request as submitted. Tell the requester what was found, and ask for "
            "more information (needs more information) or reject it with these reasons.",
        )
    if any(counts[code] for code in ATTACK_FLAGS) or poison_items / n >= HIGH_POISON_SHARE:
        return RequestVerdict(
            HIGH,
            reasons,
            "Approve only the coreset, never the flagged items; a second officer must confirm the approval. "
            "Reject the request if the flagged items look deliberate.",
        )
    if coreset_size == 0:
        reasons.insert(0, "The model shows no sign of holding any kept item: there is nothing to train on.")
        return RequestVerdict(
            MEDIUM,
            reasons,
            "Approve to forget the kept items without unlearning: the guard refuses them and verification "
            "checks that the model does not produce them. Tell the requester the model shows no sign of "
            "holding them.",
        )
    checks = (NEAR_DUPLICATE_EARLIER, COPY_OF_OTHER_REQUEST, DAMAGE, NO_EVIDENCE)
    if excluded or any(counts[code] for code in checks):
        return RequestVerdict(MEDIUM, reasons, "Check the flagged items, then approve the coreset.")
    reasons.insert(0, "Every item is about the requester, reads as genuine text and is held by the model.")
    return RequestVerdict(LOW, reasons, "Approve the coreset.")
