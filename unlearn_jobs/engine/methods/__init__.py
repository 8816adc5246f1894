"""The unlearning methods, chosen by name: a new method is one file and one line here."""

from unlearn_jobs.engine.methods.base import ForgetRetainBatch, Losses, Method, SideOutput
from unlearn_jobs.engine.methods.dpo import DPO, DPOConfig
from unlearn_jobs.engine.methods.ga import GA, GAConfig
from unlearn_jobs.engine.methods.grad_diff import GRAD_DIFF, GradDiffConfig
from unlearn_jobs.engine.methods.kl import KL, KLConfig
from unlearn_jobs.engine.methods.npo import NPO, NPOConfig
from unlearn_jobs.engine.methods.refusal import REFUSAL, RefusalConfig
from unlearn_jobs.engine.methods.rmu import RMU, RMUConfig
from unlearn_jobs.engine.methods.simnpo import SIMNPO, SimNPOConfig

METHODS: dict[str, Method] = {m.name: m for m in (GA, GRAD_DIFF, KL, NPO, SIMNPO, RMU, REFUSAL, DPO)}

__all__ = [
    "METHODS",
    "ForgetRetainBatch",
    "Losses",
    "Method",
    "SideOutput",
    "DPOConfig",
    "GAConfig",
    "GradDiffConfig",
    "KLConfig",
    "NPOConfig",
    "SimNPOConfig",
    "RMUConfig",
    "RefusalConfig",
]
