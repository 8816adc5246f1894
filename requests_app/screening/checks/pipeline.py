"""`screen(...)`: every per-item check, the request verdict and the coreset, on plain dataclasses."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from requests_app.screening.checks import verdict as V
from requests_app.screening.checks.context import ScreeningConfig, ScreeningContext
from requests_app.screening.checks.coreset import upcore_inliers
from requests_app.screening.checks.dedupe import (
    CombinedIndex,
    DuplicateFindings,
    DuplicateIndex,
    IndexedItem,
    InMemoryIndex,
    ItemRef,
    find_duplicates,
    requester_key,
)
from requests_app.screening.checks.evidence import ModelEvidence, model_evidence
from requests_app.screening.checks.facts import Fact, extract_facts, refers_by_pronoun
from requests_app.screening.checks.knowledge import (
    Item,
    KnowledgeEvidence,
    knowledge_of,
    name_probe,
    plan_probes,
)
from requests_app.screening.checks.membership import (
    NOT_MEASURED,
    REPRODUCES,
    MembershipEvidence,
)
from requests_app.screening.checks.personal import PersonalEvidence, Requester, personal_evidence
from requests_app.screening.checks.quality import QualityResult, assess_quality
from requests_app.screening.checks.repeats import duplicate_flags
from requests_app.screening.checks.utility import UtilityConflict, common_word_share


@dataclass(frozen=True)
class ScreenItem:
    item_id: int | str
    text: str
    source: str = "submitted"  # or "expanded" (a proposal from concept expansion)


@dataclass
class ItemReport:
    item_id: int | str
    source: str
    sha256: str
    signature: np.ndarray
    band_keys: list[int]
    duplicate_of: int | str | None
    near_duplicates_in_request: list[tuple[int | str, float]]
    duplicates_earlier: list[ItemRef]
    near_duplicates_earlier: list[tuple[ItemRef, float]]
    quality: QualityResult
    personal: PersonalEvidence
    membership: MembershipEvidence
    utility: UtilityConflict
    grad_cosine: float | None
    flags: V.ItemFlags
    in_coreset: bool = False
    knowledge: KnowledgeEvidence | None = None
    held: bool = False  # the model knows this about the requester, or holds the text (and it is not poison)

    @property
    def verdict(self) -> str:
        return self.flags.verdict


@dataclass
class RequestReport:
    items: list[ItemReport]
    risk: str
    reasons: list[str]
    recommended_action: str
    coreset: list[int | str]
    forget_set: list[int | str]  # every kept item: verification runs on all of them, not only the coreset
    model_label: str
    notes: list[str]

    def figures(self) -> dict:
        """Counts only (no text): fit for audit rows and logs."""
        flags: dict[str, int] = {}
        for item in self.items:
            for code in set(item.flags.codes):
                flags[code] = flags.get(code, 0) + 1
        return {
            "items": len(self.items),
            "kept": len(self.forget_set),
            "coreset": len(self.coreset),
            "risk": self.risk,
            "flags": flags,
            "held_by_model": sum(1 for i in self.items if i.held),
        }


@dataclass(frozen=True)
class RequestToScreen:
    """One request of a batch: its items, its requester, and its index of earlier requests' items."""

    items: Sequence[ScreenItem]
    requester: Requester
    earlier: DuplicateIndex | None = None
    request_id: int | str | None = None  # names this request's items to the later requests of the batch


def screen(
    items: Sequence[ScreenItem],
    *,
    requester: Requester,
    context: ScreeningContext,
    earlier: DuplicateIndex | None = None,
) -> RequestReport:
    """Screen one request's items; pure apart from reading the model (no database, no files)."""
    return screen_batch([RequestToScreen(items, requester, earlier)], context=context)[0]


# Settled by the text alone, and they make the model's view moot: the item is never unlearned, and no
# officer includes gibberish or a padding attack. The models do not read such items (they are the longest
# ones a poisoner sends: a request padded with common words or one record repeated many times).
TEXT_SETTLED = "not measured: the text alone excludes this item (low quality or padding)"


@dataclass
class _Pending:
    """One request between its text checks and the models' evidence."""

    req: RequestToScreen
    findings: DuplicateFindings
    qualities: list[QualityResult]
    personals: list[PersonalEvidence]
    shares: list[float]  # share of very common words (the padding check)
    flags: list[V.ItemFlags]  # what the text alone says; the models' findings are added later
    rows: list[int | None]  # each item's row in the models' input; None: the models do not read it
    # Per item, its knowledge probes: [(kind, own probe, unseen-name probes)] (kind "" = the whole text).
    probes: list[list[tuple[str, int, list[int]]]]
    name_row: int | None = None  # the probe of how familiar the requester's name is to the model


def _about_requester(
    personal: PersonalEvidence, facts: list[Fact], text: str, request_names_requester: bool
) -> bool:
    """Named, or spoken of: "I ..." with facts, or "she ..." with facts in a request that names them."""
    if personal.mentions_requester:
        return True
    first, third = refers_by_pronoun(text)
    return bool(facts) and (first or (third and request_names_requester))


def _text_checks(
    req: RequestToScreen,
    earlier: DuplicateIndex,
    context: ScreeningContext,
    rows_by_sha: dict[str, int],
    probes: dict[Item, int],
) -> _Pending:
    """Duplicates, quality, personal data and padding; assigns each item the row the models read it in,
    and the knowledge probes that ask the model about the facts it states.

    Identical texts anywhere in the batch share one row: the same text, the same evidence, read once.
    """
    items = req.items
    texts = [item.text for item in items]
    findings = find_duplicates(texts, earlier=earlier, digest=context.text_digest)
    asker = requester_key(req.requester.email, context.text_digest)
    qualities = [assess_quality(t, name=req.requester.name) for t in texts]
    personals = [personal_evidence(t, req.requester) for t in texts]
    facts = [extract_facts(t) for t in texts]
    names_requester = any(p.mentions_requester for p in personals)
    shares = [common_word_share(t) for t in texts]
    flags, rows, item_probes = [], [], []
    for i in range(len(texts)):
        item_flags = V.ItemFlags()
        duplicate_flags(item_flags, findings, items, i, asker)
        if not qualities[i].passed:
            item_flags.add(V.LOW_QUALITY, "; ".join(qualities[i].reasons))
        about = _about_requester(personals[i], facts[i], texts[i], names_requester)
        if not about:
            item_flags.add(
                V.NOT_ABOUT_REQUESTER,
                "does not mention you (name, e-mail or identifiers): may not be about you",
            )
        if shares[i] >= context.config.padding_share:
            item_flags.add(V.PADDING, f"{shares[i]:.0%} of its words are among the most common English words")
        flags.append(item_flags)
        if V.LOW_QUALITY in item_flags.codes or V.PADDING in item_flags.codes:
            rows.append(None)
            item_probes.append([])
            continue
        rows.append(rows_by_sha.setdefault(findings.sha256[i], len(rows_by_sha)))
        wanted = about and context.knowledge is not None and context.lm is not None
        item_probes.append(
            plan_probes(texts[i], req.requester.name, facts[i], context.knowledge.anon_names, probes)
            if wanted
            else []
        )
    name_row = None
    if any(item_probes):
        name_row = probes.setdefault(name_probe(req.requester.name), len(probes))
    return _Pending(req, findings, qualities, personals, shares, flags, rows, item_probes, name_row)


def screen_batch(requests: Sequence[RequestToScreen], *, context: ScreeningContext) -> list[RequestReport]:
    """Screen several requests at once, each judged on its own; the models read all their items together.

    A later request of the batch sees the earlier ones' items as earlier requests (as it would have, had
    they been screened one after another).
    """
    pending, rows_by_sha, probes, batch_so_far = [], {}, {}, InMemoryIndex()
    for req in requests:
        earlier = batch_so_far if req.earlier is None else CombinedIndex([req.earlier, batch_so_far])
        pending.append(_text_checks(req, earlier, context, rows_by_sha, probes))
        findings = pending[-1].findings
        asker = requester_key(req.requester.email, context.text_digest)
        for i, item in enumerate(req.items):
            ref = ItemRef(item.item_id, req.request_id, "screening", asker)
            batch_so_far.add_indexed(
                IndexedItem(ref, findings.sha256[i], findings.signatures[i]), findings.band_keys[i]
            )
    model_texts = [""] * len(rows_by_sha)
    text_kept = [False] * len(rows_by_sha)
    for p in pending:
        for item, row, flags in zip(p.req.items, p.rows, p.flags, strict=True):
            if row is not None:
                model_texts[row] = item.text
                text_kept[row] = text_kept[row] or flags.verdict == V.KEEP
    evidence = model_evidence(model_texts, text_kept, context, list(probes))
    return [_request_report(p, evidence, context) for p in pending]


def _model_flags(
    flags: V.ItemFlags,
    membership: MembershipEvidence,
    knowledge: KnowledgeEvidence | None,
    utility: UtilityConflict,
    cosine: float | None,
    cfg: ScreeningConfig,
) -> bool:
    """Adds what the models found; returns whether the model holds the item (knowledge first, then text)."""
    if utility.max_similarity is not None and utility.max_similarity >= cfg.utility_similarity:
        flags.add(
            V.UTILITY_CONFLICT, f"{utility.max_similarity:.0%} similar to knowledge the model must keep"
        )
    held = membership.held
    if knowledge is not None:
        if knowledge.tied_elsewhere:
            flags.add(V.MISATTRIBUTED, f"{knowledge.explanation}: it is not your data")
        elif knowledge.name_free and membership.held:
            flags.add(V.NOT_ABOUT_REQUESTER, f"{knowledge.explanation}")
        # Facts the model ties to nobody are not held because their text scores likely (short texts of a
        # familiar kind do); only a verbatim reproduction still counts. Without facts, the text decides.
        conclusive = knowledge.facts and knowledge.conclusive
        text_counts = membership.label == REPRODUCES if conclusive else membership.held
        held = knowledge.knows or (text_counts and not knowledge.tied_elsewhere and not knowledge.name_free)
    measured = membership.label != NOT_MEASURED or knowledge is not None
    if measured and not held and flags.verdict == V.KEEP:
        flags.add(
            V.NO_EVIDENCE,
            "the published model shows no sign of holding this: it is forgotten and checked, not trained on",
        )
    if cosine is not None and cosine >= cfg.damage_cosine:
        flags.add(V.DAMAGE, f"unlearning it pulls against the retain set (gradient cosine {cosine:.2f})")
    return held


def _item_reports(p: _Pending, evidence: ModelEvidence, context: ScreeningContext) -> list[ItemReport]:
    items, findings, reports = p.req.items, p.findings, []
    for i, item in enumerate(items):
        row, flags = p.rows[i], p.flags[i]
        cosine, knowledge, held = None, None, False
        if row is None:
            membership = MembershipEvidence(NOT_MEASURED, explanation=TEXT_SETTLED)
            utility = UtilityConflict(None, None, round(p.shares[i], 4))
        else:
            membership, utility = evidence.memberships[row], evidence.utilities[row]
            cosine = evidence.cosines[row]
            knowledge = knowledge_of(p.probes[i], evidence.probe_logprobs, context.knowledge, p.name_row)
            held = _model_flags(flags, membership, knowledge, utility, cosine, context.config)
        reports.append(
            ItemReport(
                item_id=item.item_id,
                source=item.source,
                sha256=findings.sha256[i],
                signature=findings.signatures[i],
                band_keys=findings.band_keys[i],
                duplicate_of=None
                if findings.exact_in_request[i] is None
                else items[findings.exact_in_request[i]].item_id,
                near_duplicates_in_request=[
                    (items[j].item_id, jac) for j, jac in findings.near_in_request[i]
                ],
                duplicates_earlier=findings.exact_earlier[i],
                near_duplicates_earlier=[(d.ref, d.jaccard) for d in findings.near_earlier[i]],
                quality=p.qualities[i],
                personal=p.personals[i],
                membership=membership,
                utility=utility,
                grad_cosine=None if cosine is None else round(float(cosine), 4),
                flags=flags,
                knowledge=knowledge,
                held=held,
            )
        )
    return reports


def _measured(report: ItemReport) -> bool:
    return report.membership.label != NOT_MEASURED or report.knowledge is not None


def _request_report(p: _Pending, evidence: ModelEvidence, context: ScreeningContext) -> RequestReport:
    cfg = context.config
    reports = _item_reports(p, evidence, context)
    notes = list(evidence.notes)
    unread = sum(1 for row in p.rows if row is None)
    if unread:
        notes.append(
            f"{unread} of {len(reports)} items were not read by the models: their text alone excludes them "
            "(low quality or padding)."
        )
    kept = [i for i, r in enumerate(reports) if r.verdict == V.KEEP]
    # The coreset is drawn from what the model holds: unlearning text it never learned only damages it.
    # A kept item the model does not hold stays in the forget set (guarded, verified), out of training.
    candidates = [i for i in kept if reports[i].held or not _measured(reports[i])]
    inliers = np.ones(len(candidates), dtype=bool)
    if context.lm is not None and candidates:
        inliers = upcore_inliers(
            evidence.hidden[[p.rows[i] for i in candidates]], contamination=cfg.contamination
        )
    for position, i in enumerate(candidates):
        reports[i].in_coreset = bool(inliers[position])
        if not inliers[position]:
            reports[i].flags.add(
                V.OUTLIER, "an outlier of this request's items: left out of the training coreset"
            )
    pruned = int((~inliers).sum())
    outcome = V.request_verdict([r.flags for r in reports], coreset_size=int(inliers.sum()), pruned=pruned)
    return RequestReport(
        items=reports,
        risk=outcome.risk,
        reasons=outcome.reasons,
        recommended_action=outcome.recommended_action,
        coreset=[r.item_id for r in reports if r.in_coreset],
        forget_set=[reports[i].item_id for i in kept],
        model_label=context.model_label,
        notes=notes,
    )
