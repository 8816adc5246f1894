"""The duplicate flags an officer reads: a repeat inside the request, a repeat of the requester's own earlier
request (forgotten through that one), and the same words in someone else's request (kept: still this
requester's data)."""

from __future__ import annotations

from collections.abc import Sequence

from requests_app.screening.checks import verdict as V
from requests_app.screening.checks.dedupe import DuplicateFindings, ItemRef

# Earlier requests in these states no longer stand for the item: a repeat of them is not a duplicate.
CLOSED_WITHOUT_ERASURE = frozenset({"rejected", "cancelled", "expired"})


def _request_named(ref: ItemRef, asker: str) -> str:
    own = bool(asker) and ref.requester == asker
    return f"your request {ref.request_id}" if own else f"request {ref.request_id} of another requester"


def duplicate_flags(
    report_flags: V.ItemFlags, findings: DuplicateFindings, items: Sequence, i: int, asker: str
) -> None:
    """`asker`: the requester's key (`requester_key`), to tell their own earlier requests from others'."""
    if findings.exact_in_request[i] is not None:
        first = items[findings.exact_in_request[i]].item_id
        report_flags.add(V.DUPLICATE, f"identical to item {first} of this request")
    elif findings.near_in_request[i]:
        j, jac = findings.near_in_request[i][0]
        report_flags.add(
            V.DUPLICATE, f"a near-copy ({jac:.0%} overlap) of item {items[j].item_id} of this request"
        )
    live = [r for r in findings.exact_earlier[i] if r.request_status not in CLOSED_WITHOUT_ERASURE]
    own = [r for r in live if asker and r.requester == asker]
    if own:
        # Forgotten through that request: the same data is not forgotten (nor trained on) twice.
        report_flags.add(
            V.DUPLICATE_EARLIER,
            f"already in your request {own[0].request_id} ({own[0].request_status.replace('_', ' ')}), "
            "which forgets it: not forgotten twice",
        )
    elif live:
        # The same words filed by someone else (a sentence such as "She works as a nurse." fits many
        # people): that request's copy does not make this one's any less the requester's data.
        report_flags.add(
            V.COPY_OF_OTHER_REQUEST,
            f"the same text is in request {live[0].request_id} of another requester: forgotten for both; "
            "check that it is about this requester",
        )
    elif findings.near_earlier[i]:
        near = findings.near_earlier[i][0]
        report_flags.add(
            V.NEAR_DUPLICATE_EARLIER,
            f"a near-copy ({near.jaccard:.0%} overlap) of an item of {_request_named(near.ref, asker)}",
        )
