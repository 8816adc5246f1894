"""Tokenize texts and prompt+answer pairs into padded, bounded batches with -100 masked labels."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import torch
from transformers import PreTrainedTokenizerBase

IGNORE_INDEX = -100
Item = str | tuple[str, str]


@dataclass(frozen=True)
class EncodedItem:
    """One sequence: token ids and labels (IGNORE_INDEX where a token is not a target)."""

    input_ids: list[int]
    labels: list[int]

    @property
    def n_targets(self) -> int:
        # Position 0 is never predicted, so it never counts as a target.
        return sum(1 for label in self.labels[1:] if label != IGNORE_INDEX)


@dataclass
class EncodedBatch:
    input_ids: torch.Tensor  # (B, T) long
    attention_mask: torch.Tensor  # (B, T) long, 0 on padding
    labels: torch.Tensor  # (B, T) long, IGNORE_INDEX on prompt and padding

    def to(self, device: torch.device | str) -> EncodedBatch:
        return EncodedBatch(self.input_ids.to(device), self.attention_mask.to(device), self.labels.to(device))


def encode_texts(
    tokenizer: PreTrainedTokenizerBase, texts: Sequence[str], *, max_length: int = 512, add_eos: bool = False
) -> list[EncodedItem]:
    """Every token of the text is a target; texts longer than max_length keep their beginning."""
    items = []
    for text in texts:
        ids = list(tokenizer(text, add_special_tokens=True)["input_ids"])
        if add_eos and tokenizer.eos_token_id is not None:
            ids.append(int(tokenizer.eos_token_id))
        ids = ids[:max_length]
        items.append(EncodedItem(input_ids=ids, labels=list(ids)))
    return items


def encode_pairs(
    tokenizer: PreTrainedTokenizerBase,
    pairs: Sequence[tuple[str, str]],
    *,
    max_length: int = 512,
    add_eos: bool = False,
) -> list[EncodedItem]:
    """Only answer tokens are targets; an over-long pair loses the start of its prompt, never its answer."""
    items = []
    for prompt, answer in pairs:
        prompt_ids = list(tokenizer(prompt, add_special_tokens=True)["input_ids"])
        answer_ids = list(tokenizer(answer, add_special_tokens=False)["input_ids"])
        if add_eos and tokenizer.eos_token_id is not None:
            answer_ids.append(int(tokenizer.eos_token_id))
        answer_ids = answer_ids[: max_length - 1]
        prompt_ids = prompt_ids[max(0, len(prompt_ids) + len(answer_ids) - max_length) :]
        ids = prompt_ids + answer_ids
        labels = [IGNORE_INDEX] * len(prompt_ids) + answer_ids
        items.append(EncodedItem(input_ids=ids, labels=labels))
    return items


def encode_items(
    tokenizer: PreTrainedTokenizerBase, items: Sequence[Item], *, max_length: int = 512
) -> list[EncodedItem]:
    """Texts and (prompt, answer) pairs may be mixed; each keeps its own masking rule."""
    out: list[EncodedItem] = []
    for item in items:
        if isinstance(item, str):
            out.extend(encode_texts(tokenizer, [item], max_length=max_length))
        else:
            out.extend(encode_pairs(tokenizer, [item], max_length=max_length))
    return out


def collate(items: Sequence[EncodedItem], *, pad_id: int, padding_side: str = "right") -> EncodedBatch:
    """Pad to the longest item of the batch."""
    width = max(len(item.input_ids) for item in items)
    input_ids = torch.full((len(items), width), pad_id, dtype=torch.long)
    attention = torch.zeros((len(items), width), dtype=torch.long)
    labels = torch.full((len(items), width), IGNORE_INDEX, dtype=torch.long)
    for row, item in enumerate(items):
        n = len(item.input_ids)
        cols = slice(0, n) if padding_side == "right" else slice(width - n, width)
        input_ids[row, cols] = torch.tensor(item.input_ids, dtype=torch.long)
        attention[row, cols] = 1
        labels[row, cols] = torch.tensor(item.labels, dtype=torch.long)
    return EncodedBatch(input_ids=input_ids, attention_mask=attention, labels=labels)


def chunked(seq: Sequence, size: int) -> Iterator[Sequence]:
    if size < 1:
        raise ValueError("batch_size must be at least 1")
    for start in range(0, len(seq), size):
        yield seq[start : start + size]
