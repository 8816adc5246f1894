"""The unlearning engine: pure torch, transformers and peft (no Django). Entry point: `run_unlearning`."""

from unlearn_jobs.engine.items import forget_item, split_question
from unlearn_jobs.engine.methods import METHODS, ForgetRetainBatch, Losses, Method, SideOutput
from unlearn_jobs.engine.retain import mixed_retain, select_retain
from unlearn_jobs.engine.runner import run_unlearning
from unlearn_jobs.engine.spec import LoraSettings, StopRules, TextItem, UnlearnResult, UnlearnSpec

__all__ = [
    "METHODS",
    "ForgetRetainBatch",
    "Losses",
    "LoraSettings",
    "Method",
    "SideOutput",
    "StopRules",
    "TextItem",
    "UnlearnResult",
    "UnlearnSpec",
    "forget_item",
    "mixed_retain",
    "run_unlearning",
    "select_retain",
    "split_question",
]
