"""Precision on the way out and on resume: the LoRA merge adds the update to an fp32 copy of the parent
and saves in the parent's dtype; a checkpoint resumes only on the device type and precision it was made
on."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM

from tests.unlearn_jobs.engine.conftest import Killed, spec_for, weights
from unlearn_jobs.engine import run_unlearning

DTYPES = {"bf16": torch.bfloat16, "fp32": torch.float32}


def parent_stored_as(world, dtype: torch.dtype, directory: Path) -> Path:
    """The tiny world's model saved in `dtype`, tokenizer files alongside."""
    model = AutoModelForCausalLM.from_pretrained(world.model_dir, dtype=torch.float32).to(dtype)
    model.save_pretrained(directory)
    for path in world.model_dir.glob("*.json"):
        if path.name != "config.json":
            shutil.copy2(path, directory / path.name)
    return directory


# (bf16, bf16) held before the fix too: torch's in-place bf16 += fp32 rounds once. The other two did not:
# an fp32 parent came out as bf16 (the parent rounded, small updates lost) and a bf16 parent as fp32.
@pytest.mark.parametrize("stored, precision", [("bf16", "bf16"), ("fp32", "bf16"), ("bf16", "fp32")])
def test_lora_merge_adds_the_update_to_an_fp32_parent_and_saves_in_the_parents_dtype(
    engine_world, tmp_path, stored, precision
):
    # given a parent stored in `stored` and a small LoRA update trained under `precision`
    dtype = DTYPES[stored]
    parent_dir = parent_stored_as(engine_world, dtype, tmp_path / "parent")
    spec = spec_for(
        engine_world, tmp_path, model_dir=parent_dir, precision=precision, learning_rate=1e-3, max_steps=2
    )

    result = run_unlearning(spec)

    # then merged = (fp32 parent + fp32 delta) rounded once to the parent's dtype
    parent, merged = weights(parent_dir), weights(result.artifact_dir)
    adapter = load_file(str(result.artifact_dir / "adapter" / "adapter_model.safetensors"))
    assert {tensor.dtype for tensor in merged.values()} == {dtype}
    naive_differs = 0
    for name, weight in parent.items():
        if "proj" not in name:
            torch.testing.assert_close(merged[name], weight, rtol=0, atol=0)
            continue
        stem = "base_model.model." + name.removesuffix(".weight")
        delta = 2.0 * adapter[f"{stem}.lora_B.weight"].float() @ adapter[f"{stem}.lora_A.weight"].float()
        assert float(delta.abs().max()) > 0, name
        exact = (weight.float() + delta).to(dtype)
        torch.testing.assert_close(merged[name], exact, rtol=0, atol=0)
        naive = weight.to(torch.bfloat16) + delta.to(torch.bfloat16)  # a merge done in bf16 throughout
        naive_differs += int((naive.to(dtype) != merged[name]).sum())
    assert naive_differs > 0
    manifest = json.loads((result.artifact_dir / "manifest.json").read_text())
    assert manifest["artifact"]["dtype"] == str(dtype).removeprefix("torch.")
    assert manifest["run"]["precision"] == precision
    assert AutoModelForCausalLM.from_pretrained(result.artifact_dir).dtype == dtype


@pytest.mark.parametrize("first, second", [("fp32", "bf16"), ("bf16", "fp32")])
def test_a_checkpoint_resumes_only_under_the_precision_it_was_written_with(
    engine_world, tmp_path, first, second
):
    common = dict(method="npo", max_steps=6, checkpoint_every=2, log_every=1)

    def kill_at_step_4(step, total, figures):
        if step == 4:
            raise Killed

    def killed_run(precision: str, checkpoint_dir: Path) -> None:
        with pytest.raises(Killed):
            run_unlearning(
                spec_for(
                    engine_world,
                    tmp_path / "killed",
                    precision=precision,
                    checkpoint_dir=checkpoint_dir,
                    progress=kill_at_step_4,
                    **common,
                )
            )
        assert (checkpoint_dir / "step-00000004").is_dir()

    # given a run under the first precision killed after its step-4 checkpoint
    killed_run(first, tmp_path / "ckpt")

    # when the job runs again under the second precision
    other = run_unlearning(
        spec_for(
            engine_world, tmp_path / "other", precision=second, checkpoint_dir=tmp_path / "ckpt", **common
        )
    )

    # then it starts fresh, and ends where a run that never saw the checkpoint ends
    clean = run_unlearning(spec_for(engine_world, tmp_path / "clean", precision=second, **common))
    assert other.resumed_from_step == 0 and other.steps_done == 6
    assert [row["step"] for row in other.history] == [1, 2, 3, 4, 5, 6]
    a, b = weights(other.artifact_dir), weights(clean.artifact_dir)
    assert all(torch.equal(a[name], b[name]) for name in a)

    # and under the same precision a killed run is resumed
    killed_run(second, tmp_path / "ckpt-same")
    same = run_unlearning(
        spec_for(
            engine_world, tmp_path / "same", precision=second, checkpoint_dir=tmp_path / "ckpt-same", **common
        )
    )
    assert same.resumed_from_step == 4 and same.steps_done == 6
