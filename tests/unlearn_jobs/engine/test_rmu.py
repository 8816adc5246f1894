"""RMU end to end on the tiny world: it trains only its chosen down-projections (full and LoRA) and the
forget answers become unlikely while the retain answers stay."""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM

from tests.unlearn_jobs.engine.conftest import mean_nll, spec_for, weights
from unlearn_jobs.engine import run_unlearning


def changed_weights(parent_dir, artifact_dir) -> set[str]:
    before, after = weights(parent_dir), weights(artifact_dir)
    return {name for name in before if not torch.equal(before[name], after[name])}


def test_rmu_full_mode_trains_only_the_chosen_down_projections(engine_world, tmp_path):
    result = run_unlearning(
        spec_for(
            engine_world,
            tmp_path,
            method="rmu",
            mode="full",
            learning_rate=3e-3,
            max_steps=4,
            method_config={"layer": 1, "update_layers": (1,)},
        )
    )

    changed = changed_weights(engine_world.model_dir, result.artifact_dir)
    assert changed == {"model.layers.1.mlp.down_proj.weight"}
    assert result.final_figures["rmu/steering_coeff"] > 0


def test_rmu_lora_adapts_only_the_down_projections_up_to_its_layer(engine_world, tmp_path):
    # given layer ℓ = 0 of the two: layer 1 is above it, and of layer 0 only the MLP down-projection trains
    spec = spec_for(engine_world, tmp_path, method="rmu", max_steps=4, method_config={"layer": 0})

    result = run_unlearning(spec)

    adapter = load_file(str(result.artifact_dir / "adapter" / "adapter_model.safetensors"))
    adapted = {name.split(".lora_")[0].removeprefix("base_model.model.") for name in adapter}
    assert adapted == {"model.layers.0.mlp.down_proj"}  # no adapter above ℓ, none on attention
    assert float(adapter["base_model.model.model.layers.0.mlp.down_proj.lora_B.weight"].abs().max()) > 0
    changed = changed_weights(engine_world.model_dir, result.artifact_dir)
    assert changed == {"model.layers.0.mlp.down_proj.weight"}  # layer 1 and the rest: untouched


@pytest.mark.parametrize("mode, learning_rate", [("lora", 3e-2), ("full", 1e-2)])
def test_rmu_makes_the_forget_answers_unlikely_and_keeps_the_retain_answers(
    engine_world, tmp_path, mode, learning_rate
):
    # given the tiny model that knows every answer (forget NLL ~0.006, retain ~0.07). ℓ is its last layer:
    # steering the first of two layers moved the answers less for more damage (60 steps: forget +0.16 to
    # +1.05, retain up to +0.29)
    base = AutoModelForCausalLM.from_pretrained(engine_world.model_dir)
    forget_before = mean_nll(base, engine_world.model_dir, engine_world.forget_items)
    retain_before = mean_nll(base, engine_world.model_dir, engine_world.retain_items)
    spec = spec_for(
        engine_world,
        tmp_path,
        method="rmu",
        mode=mode,
        learning_rate=learning_rate,
        max_steps=40,
        log_every=10,
        method_config={"layer": 1, "alpha": 10.0},
    )

    result = run_unlearning(spec)

    unlearned = AutoModelForCausalLM.from_pretrained(result.artifact_dir)
    forget_rise = mean_nll(unlearned, result.artifact_dir, engine_world.forget_items) - forget_before
    retain_rise = mean_nll(unlearned, result.artifact_dir, engine_world.retain_items) - retain_before
    # seeds 0-3 and 7 measured: forget +0.9 to +1.9, retain +0.02 to +0.14
    assert forget_rise > 0.5
    assert retain_rise < 0.25
    assert forget_rise > 4 * retain_rise
    first, last = result.history[0], result.history[-1]
    assert last["forget/rmu_mse"] < 0.9 * first["forget/rmu_mse"]  # the states move towards c·u
