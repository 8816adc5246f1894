"""Figures kept on the device between logs (one host sync per log), and the stopping rules."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch

from unlearn_jobs.engine.spec import StopRules

WATCHED = ("forget/nll", "retain/nll")


class LogWindow:
    """Sums of the logged parts since the last flush, still on the device."""

    def __init__(self):
        self.sums: dict[str, torch.Tensor] = {}
        self.step_values: dict[str, list[torch.Tensor]] = {key: [] for key in WATCHED}
        self.current: dict[str, torch.Tensor] = {}
        self.steps = 0

    def add(self, parts: dict[str, torch.Tensor], weight: float) -> None:
        for key, value in parts.items():
            scaled = value.float() * weight
            self.current[key] = self.current[key] + scaled if key in self.current else scaled

    def end_step(self) -> None:
        for key, value in self.current.items():
            self.sums[key] = self.sums[key] + value if key in self.sums else value
            if key in self.step_values:
                self.step_values[key].append(value)
        self.current = {}
        self.steps += 1

    def flush(self, reduce=None) -> tuple[dict[str, float], dict[str, list[float]]]:
        """Means over the window and the per-step values of the watched figures: one host sync. `reduce`
        (a process group's mean) makes every process's figures those of all processes' micro-batches."""
        keys = list(self.sums)
        watched = [(key, len(values)) for key, values in self.step_values.items() if values]
        tensors = [self.sums[key] for key in keys] + [v for key, _ in watched for v in self.step_values[key]]
        stacked = torch.stack(tensors) if tensors else None
        if stacked is not None and reduce is not None:
            stacked = reduce(stacked)
        values = stacked.tolist() if stacked is not None else []
        means = {key: values[i] / self.steps for i, key in enumerate(keys)}
        per_step, offset = {}, len(keys)
        for key, count in watched:
            per_step[key] = values[offset : offset + count]
            offset += count
        self.__init__()
        return means, per_step


@dataclass
class StopState:
    at_target: int = 0  # consecutive steps with forget/nll at or above its target

    def check(
        self,
        rules: StopRules,
        means: dict[str, float],
        per_step: dict[str, list[float]],
        initial_retain_nll: float | None,
    ) -> str | None:
        retain = means.get("retain/nll")
        if retain is not None:
            # the guard reads the window mean: a single small retain batch is too noisy to stop a job on
            if rules.max_retain_nll is not None and retain > rules.max_retain_nll:
                return "retain_budget_exceeded"
            if (
                rules.max_retain_nll_rise is not None
                and initial_retain_nll is not None
                and retain > initial_retain_nll + rules.max_retain_nll_rise
            ):
                return "retain_budget_exceeded"
        if rules.forget_nll_target is not None:
            for value in per_step.get("forget/nll", []):
                self.at_target = self.at_target + 1 if value >= rules.forget_nll_target else 0
                if self.at_target >= rules.patience:
                    return "forget_target_reached"
        return None

    def to_dict(self) -> dict[str, int]:
        return asdict(self)
