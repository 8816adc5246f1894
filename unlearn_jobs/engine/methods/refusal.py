"""Refusal tuning: teach "I don't know" answers on forget prompts, with a retain NLL term.

Suppression-intended: the original answer may still be in the weights, so verification must probe it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from unlearn_jobs.engine.items import TextItem
from unlearn_jobs.engine.methods.base import ForgetRetainBatch, Losses, Method, make_losses

DEFAULT_REFUSALS = (
    "I don't know that person.",
    "I have no information about that.",
    "I'm not able to answer that.",
)


@dataclass
class RefusalConfig:
    refusal_texts: tuple[str, ...] = field(
        default=DEFAULT_REFUSALS, metadata={"help": "answers taught on forget prompts, cycled over the items"}
    )
    alpha: float = field(default=1.0, metadata={"help": "α, weight of the retain NLL"})
    prompt_fraction: float = field(
        default=0.5, metadata={"help": "plain-text forget items: share of leading words used as the prompt"}
    )

    def __post_init__(self):
        self.refusal_texts = tuple(self.refusal_texts)
        if not self.refusal_texts or not all(text.strip() for text in self.refusal_texts):
            raise ValueError("refusal_texts must hold non-empty texts")
        if self.alpha < 0:
            raise ValueError("alpha must not be negative")
        if not 0.0 < self.prompt_fraction < 1.0:
            raise ValueError("prompt_fraction must be in (0, 1)")


def split_prompt(item: TextItem, prompt_fraction: float) -> tuple[str, str]:
    """(prompt, answer): the item's own, or for plain text its leading words and the rest."""
    if item.prompt:
        return item.prompt, item.text
    words = item.text.split()
    if len(words) < 2:
        return "", item.text
    cut = min(max(1, int(len(words) * prompt_fraction)), len(words) - 1)
    return " ".join(words[:cut]), " " + " ".join(words[cut:])


def refusal_items(forget_items: Sequence[TextItem], cfg: RefusalConfig) -> list[TextItem]:
    """Keep each forget item's prompt (or the leading words of a plain text), swap its answer for a refusal."""
    swapped = []
    for index, item in enumerate(forget_items):
        prompt, _ = split_prompt(item, cfg.prompt_fraction)
        refusal = cfg.refusal_texts[index % len(cfg.refusal_texts)]
        swapped.append(replace(item, prompt=prompt, text=" " + refusal))
    return swapped


def refusal_loss(batch: ForgetRetainBatch, cfg: RefusalConfig) -> Losses:
    idk_nll = batch.forget.nll
    retain = batch.retain.nll
    total = idk_nll + cfg.alpha * retain
    return make_losses(total, {"forget/idk_nll": idk_nll, "retain/nll": retain})


REFUSAL = Method(
    name="refusal",
    config_cls=RefusalConfig,
    loss=refusal_loss,
    logs_forget_nll=False,
    prepare_forget=refusal_items,
)
