"""Tokenise items, group them into length buckets and collate micro-batches with every index precomputed
on the host, so the training step never has to ask the GPU for a data-dependent shape."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from unlearn_jobs.engine.spec import TextItem

BUCKET_SPAN = 16  # batches' worth of items sorted together: less padding, still shuffled across epochs


@dataclass(frozen=True)
class Encoded:
    input_ids: tuple[int, ...]
    n_prompt: int  # leading tokens that are context only (label -100)
    untrained: frozenset[int] = frozenset()  # later positions that are context too (a protected name)


def _spans(text: str, needles: Sequence[str]) -> list[tuple[int, int]]:
    return [
        (m.start(), m.end())
        for needle in needles
        if needle.strip()
        for m in re.finditer(re.escape(needle), text, flags=re.IGNORECASE)
    ]


def _offsets(tokenizer, texts: list[str], add_special_tokens: bool):
    """Token ids and character offsets; offsets are None where the tokenizer cannot give them (a slow one)."""
    try:
        encoded = tokenizer(texts, add_special_tokens=add_special_tokens, return_offsets_mapping=True)
        return encoded["input_ids"], encoded["offset_mapping"]
    except (NotImplementedError, ValueError, TypeError):
        return tokenizer(texts, add_special_tokens=add_special_tokens)["input_ids"], [None] * len(texts)


def _inside(offsets, spans: list[tuple[int, int]], shift: int) -> set[int]:
    """Positions (plus `shift`) of the tokens that overlap a span."""
    if offsets is None or not spans:
        return set()
    return {
        shift + j
        for j, (start, end) in enumerate(offsets)
        if end > start and any(start < s_end and end > s_start for s_start, s_end in spans)
    }


def encode_items(
    tokenizer, items: Sequence[TextItem], max_length: int, *, mask_protected: bool = False
) -> list[Encoded]:
    """Prompt with special tokens, answer without, then EOS; truncated to max_length keeping >= 1 target.

    With `mask_protected`, tokens of an item's protected strings (the person's name) are context, not
    targets: forgetting must take the facts away, not the model's ability to write the name, which is the
    shortcut a forget loss finds first when the name is trained on.
    """
    if not items:
        return []
    prompts = [item.prompt if item.prompt else item.text for item in items]
    prompt_ids, prompt_offsets = _offsets(tokenizer, prompts, add_special_tokens=True)
    answers = [item.text for item in items if item.prompt]
    answer_ids, answer_offsets = (
        _offsets(tokenizer, answers, add_special_tokens=False) if answers else ([], [])
    )
    answer_iter = iter(zip(answer_ids, answer_offsets, strict=True))
    eos = [tokenizer.eos_token_id] if tokenizer.eos_token_id is not None else []
    encoded = []
    for item, head, head_offsets in zip(items, prompt_ids, prompt_offsets, strict=True):
        needles = item.protected if mask_protected else ()
        if item.prompt:
            answer_tokens, offsets = next(answer_iter)
            answer = list(answer_tokens) + eos
            head = (
                list(head)[-max(1, max_length // 2) :] if len(head) + len(answer) > max_length else list(head)
            )
            ids = (head + answer)[:max_length]
            untrained = _inside(offsets, _spans(item.text, needles), shift=len(head))
            n_prompt = len(head)
        else:
            ids = (list(head) + eos)[:max_length]
            untrained = _inside(head_offsets, _spans(item.text, needles), shift=0)
            n_prompt = 0
        untrained = {t for t in untrained if t < len(ids)}
        if not any(t not in untrained and ids[t] not in eos for t in range(max(n_prompt, 1), len(ids))):
            untrained = set()  # nothing left to train on: the item is trained whole rather than not at all
        encoded.append(Encoded(tuple(ids), n_prompt, frozenset(untrained)))
    return encoded


@dataclass
class MicroBatch:
    input_ids: Tensor  # (B, T) right-padded
    attention_mask: Tensor  # (B, T)
    target_pos: Tensor  # (n_targets,) flat index b*T + t of the position that predicts a target
    target_ids: Tensor  # (n_targets,)
    token_item: Tensor  # (n_targets,) b of each target
    valid_pos: Tensor  # (n_valid,) flat index of every non-pad token (hidden-state methods)
    seq_len: Tensor  # (B,) targets per item, float
    item_index: Tensor  # (B,) index of each row's item in its item list (reference-cache key), on the host
    n_tokens: int  # non-pad tokens, for throughput
    n_targets: int
    device_index: Tensor | None = None  # item_index on the device, copied without a sync

    @property
    def n_items(self) -> int:
        return int(self.input_ids.shape[0])

    def to(self, device: torch.device) -> MicroBatch:
        if device.type == "cpu":
            return self
        moved = {}
        names = (
            "input_ids",
            "attention_mask",
            "target_pos",
            "target_ids",
            "token_item",
            "valid_pos",
            "seq_len",
        )
        for name in names:
            moved[name] = getattr(self, name).pin_memory().to(device, non_blocking=True)
        moved["device_index"] = self.item_index.pin_memory().to(device, non_blocking=True)
        return MicroBatch(
            item_index=self.item_index, n_tokens=self.n_tokens, n_targets=self.n_targets, **moved
        )

    def index_on(self, device: torch.device) -> Tensor:
        """item_index where the reference caches live (pinned copy on GPU: no sync)."""
        return self.device_index if self.device_index is not None else self.item_index.to(device)


def collate(encoded: Sequence[Encoded], indices: Sequence[int], pad_id: int) -> MicroBatch:
    rows = [encoded[i] for i in indices]
    width = max(len(row.input_ids) for row in rows)
    input_ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    attention_mask = torch.zeros((len(rows), width), dtype=torch.long)
    target_pos, target_ids, token_item, valid_pos, seq_len = [], [], [], [], []
    for b, row in enumerate(rows):
        n = len(row.input_ids)
        input_ids[b, :n] = torch.tensor(row.input_ids)
        attention_mask[b, :n] = 1
        # position t predicts token t+1; a target is any answer token after the first token of the row
        targets = [t for t in range(max(row.n_prompt, 1), n) if t not in row.untrained]
        target_pos.extend(b * width + t - 1 for t in targets)
        target_ids.extend(row.input_ids[t] for t in targets)
        token_item.extend([b] * len(targets))
        valid_pos.extend(range(b * width, b * width + n))
        seq_len.append(float(max(len(targets), 1)))  # never 0: SimNPO divides by it
    return MicroBatch(
        input_ids=input_ids,
        attention_mask=attention_mask,
        target_pos=torch.tensor(target_pos, dtype=torch.long),
        target_ids=torch.tensor(target_ids, dtype=torch.long),
        token_item=torch.tensor(token_item, dtype=torch.long),
        valid_pos=torch.tensor(valid_pos, dtype=torch.long),
        seq_len=torch.tensor(seq_len),
        item_index=torch.tensor(list(indices), dtype=torch.long),
        n_tokens=int(attention_mask.sum()),
        n_targets=len(target_ids),
    )


class BatchPlan:
    """Deterministic bucketed batches: a function of (seed, stream, epoch) only, so a resumed run
    sees exactly the batches an uninterrupted one would."""

    def __init__(self, encoded: Sequence[Encoded], batch_size: int, seed: int, stream: int):
        self.encoded = encoded
        self.batch_size = min(batch_size, len(encoded))
        self.seed, self.stream = seed, stream
        self.lengths = [len(e.input_ids) for e in encoded]
        self.batches_per_epoch = -(-len(encoded) // self.batch_size)
        self._epoch, self._batches = -1, []

    def epoch_batches(self, epoch: int) -> list[list[int]]:
        if epoch != self._epoch:
            generator = torch.Generator().manual_seed(self.seed * 1_000_003 + self.stream * 7_919 + epoch)
            order = torch.randperm(len(self.encoded), generator=generator).tolist()
            span = self.batch_size * BUCKET_SPAN
            batches = []
            for start in range(0, len(order), span):
                chunk = sorted(order[start : start + span], key=self.lengths.__getitem__)
                batches.extend(chunk[i : i + self.batch_size] for i in range(0, len(chunk), self.batch_size))
            shuffle = torch.randperm(len(batches), generator=generator).tolist()
            self._epoch, self._batches = epoch, [batches[i] for i in shuffle]
        return self._batches

    def micro_batch(self, index: int, pad_id: int) -> MicroBatch:
        """The index-th micro-batch of the endless stream of epochs."""
        epoch, position = divmod(index, self.batches_per_epoch)
        return collate(self.encoded, self.epoch_batches(epoch)[position], pad_id)

    def all_batches(self, pad_id: int) -> list[MicroBatch]:
        """Every item once, length-sorted (for reference passes)."""
        order = sorted(range(len(self.encoded)), key=self.lengths.__getitem__)
        return [
            collate(self.encoded, order[i : i + self.batch_size], pad_id)
            for i in range(0, len(order), self.batch_size)
        ]
