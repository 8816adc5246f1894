"""The models' evidence on a batch of texts, gathered by two lanes (one core each) from one task queue.

Tasks of LANE_TASK texts of similar length, longest first: a forward pass with the greedy extraction and
the damage probe, or an embedding; then the knowledge probes (short question-answer pairs), PROBE_TASK a task. The lanes share the model's weights (read under no_grad; the probe's
requires_grad switches are taken under a lock and its hooks record only their own thread) and each has
its own tokenizer (ScreeningContext.lane_lm).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import torch

from requests_app.screening.checks.context import ScreeningContext
from requests_app.screening.checks.knowledge import Item, Scored, target_logprobs
from requests_app.screening.checks.membership import (
    NOT_MEASURED,
    MembershipEvidence,
    extraction_recalls,
    item_signals,
    judge,
    reproduced_by_teacher_forcing,
)
from requests_app.screening.checks.model_pass import model_pass
from requests_app.screening.checks.utility import UtilityConflict, utility_conflicts

# The second lane (the first is the calling thread).
_LANE_POOL = ThreadPoolExecutor(max_workers=1, thread_name_prefix="screening-lane")
# Texts per task of a lane: small enough that the two lanes finish close together.
LANE_TASK = 128
PROBE_TASK = 256


@dataclass
class ModelEvidence:
    """What the models say about the texts they read, row by row."""

    memberships: list[MembershipEvidence]
    hidden: np.ndarray
    utilities: list[UtilityConflict]
    cosines: list[float | None]  # gradient cosine with the retain set, for the candidates for unlearning
    notes: list[str]
    probe_logprobs: list[Scored]  # (total log-prob, tokens, conflict) of each knowledge probe's targets


def _question(probe: Item) -> str:
    return probe if isinstance(probe, str) else probe[0]


def model_evidence(
    texts: list[str], text_kept: list[bool], context: ScreeningContext, probes: Sequence[Item] = ()
) -> ModelEvidence:
    """One forward pass, the greedy extraction and the embedding of every text of the batch; the gradient
    cosine (predicted damage) of the candidates: kept by their text checks and not shown unheld.

    The work is cut into tasks of LANE_TASK texts of similar length (across requests: a backlog of small
    requests costs what one large request costs). With one intra-op thread (OMP_NUM_THREADS=1 workers)
    two lanes, this thread and one more, take tasks until none is left: one core each, language model or
    embedder, whichever is waiting. With more intra-op threads one lane does all (two thread teams on
    the same cores stall each other: measured several times slower on a loaded 2-core machine).
    """
    cfg, n, notes = context.config, len(texts), []
    wants_vectors = bool(context.embedder is not None and context.utility_vectors.size and n)
    reads = context.lm is not None and n > 0
    order = sorted(range(n), key=lambda i: len(texts[i]))
    tasks = deque()
    # Longest texts first: the last tasks are the shortest, so the two lanes finish close together.
    for start in reversed(range(0, n, LANE_TASK)):
        rows = order[start : start + LANE_TASK]
        if reads:
            tasks.append(("lm", rows))
        if wants_vectors:
            tasks.append(("embed", rows))
    # Probes of one question go to one task, where the question is read once (shared prompts).
    by_question = sorted(range(len(probes)), key=lambda i: _question(probes[i]))
    if context.lm is not None:
        for start in range(0, len(probes), PROBE_TASK):
            tasks.append(("probe", by_question[start : start + PROBE_TASK]))
    results: dict[tuple[str, int], object] = {}

    def lane(number: int) -> None:
        if number:
            torch.set_num_threads(1)  # OpenMP settings are per thread: keep this lane to its own core
        lm = context.lane_lm(number)
        while True:
            try:
                kind, rows = tasks.popleft()
            except IndexError:
                return
            if kind == "probe":
                scored = target_logprobs(lm, [probes[i] for i in rows], batch_size=cfg.batch_size)
                results[kind, rows[0]] = dict(zip(rows, scored, strict=True))
                continue
            chunk = [texts[i] for i in rows]
            if kind == "embed":
                results[kind, rows[0]] = context.embedder.encode(chunk)
                continue
            passed = model_pass(lm, chunk, batch_size=cfg.batch_size, max_length=cfg.max_length)
            judged = [MembershipEvidence(NOT_MEASURED)] * len(rows)
            if context.calibration is not None:
                extraction = extraction_recalls(
                    lm,
                    chunk,
                    template=context.calibration.template,
                    reproduced=reproduced_by_teacher_forcing(passed.scores),
                    batch_size=cfg.batch_size,
                )
                judged = [judge(s, context.calibration) for s in item_signals(passed.scores, extraction)]
            # Only what may be unlearned needs the backward pass (stopping at the last block).
            candidates = [
                k
                for k, i in enumerate(rows)
                if text_kept[i] and (judged[k].held or judged[k].label == NOT_MEASURED)
            ]
            cosines: list[float | None] = [None] * len(rows)
            if context.retain is not None and candidates:
                probed = model_pass(
                    lm,
                    [chunk[k] for k in candidates],
                    retain=context.retain,
                    batch_size=cfg.batch_size,
                    max_length=cfg.max_length,
                )
                for k, cosine in zip(candidates, probed.grad_cosine, strict=True):
                    cosines[k] = cosine
            results[kind, rows[0]] = (passed.hidden, judged, cosines)

    second = _LANE_POOL.submit(lane, 1) if torch.get_num_threads() == 1 and len(tasks) > 1 else None
    try:
        lane(0)
    finally:
        if second is not None:
            if tasks:  # this lane failed: the other one stops after its current task
                tasks.clear()
            second.result()

    memberships = [MembershipEvidence(NOT_MEASURED)] * n
    cosines: list[float | None] = [None] * n
    width = int(context.lm.model.config.hidden_size) if reads else 1
    hidden = np.zeros((n, width), dtype=np.float32)
    vectors = np.zeros((n, context.utility_vectors.shape[1]), dtype=np.float32) if wants_vectors else None
    for start in range(0, n, LANE_TASK):
        rows = order[start : start + LANE_TASK]
        if wants_vectors:
            vectors[rows] = results["embed", rows[0]]
        if reads:
            hidden[rows], judged, chunk_cosines = results["lm", rows[0]]
            for k, i in enumerate(rows):
                memberships[i], cosines[i] = judged[k], chunk_cosines[k]
    if context.lm is None:
        notes.append("No published model was available: membership evidence and damage were not measured.")
    elif context.calibration is None:
        notes.append("No non-member calibration texts are configured: membership evidence was not judged.")
    if context.embedder is None or not context.utility_vectors.size:
        notes.append(
            "No embedder or utility-critical set: similarity to knowledge the model must keep was not measured."
        )
    probe_logprobs: list[Scored] = [(float("nan"), 0, 0.0)] * len(probes)
    if context.lm is not None:
        for start in range(0, len(probes), PROBE_TASK):
            for i, scored in results["probe", by_question[start]].items():
                probe_logprobs[i] = scored
    utilities = utility_conflicts(vectors, context.utility_vectors, texts)
    return ModelEvidence(memberships, hidden, utilities, cosines, notes, probe_logprobs)
