"""A job as a process group: two CPU processes on gloo (torchrun started by launch_unlearning, accelerate's
DDP inside) train the tiny model to the weights one process reaches with the same micro-batches, and a
rank killed mid-run fails the attempt, which the next attempt resumes from its checkpoint.

Each launch starts torchrun and two Python processes (~20-40 s on the shared 2-core box); each process
uses one thread. FSDP and DeepSpeed cannot run here: accelerate enables FSDP only on GPU process groups
(on CPU it would quietly run DDP, which the engine refuses), and DeepSpeed is not installed."""

from __future__ import annotations

import os
import signal

import pytest
import torch

from tests.unlearn_jobs.engine.conftest import spec_for, weights
from unlearn_jobs.engine import run_unlearning
from unlearn_jobs.engine.capacity import choose_strategy, memory_per_device, model_shape
from unlearn_jobs.engine.jobfile import spec_from_dict, spec_to_dict
from unlearn_jobs.engine.launch import RankFailed, launch_unlearning
from unlearn_jobs.engine.rank_main import FileProgress, alive

LAUNCH_TIMEOUT_S = 240
# Measured: weights bitwise equal (max |Δ| = 0) in both tests on this machine; the bound allows for another
# reduction order in gloo's all-reduce.
TOLERANCE = dict(rtol=0, atol=1e-6)


def test_two_processes_train_lora_npo_to_the_weights_of_one(engine_world, tmp_path):
    common = dict(method="npo", max_steps=6, log_every=2, forget_batch_size=2, retain_batch_size=3)
    seen = []
    two = spec_for(engine_world, tmp_path / "two", progress=lambda s, n, f: seen.append((s, n)), **common)

    result = launch_unlearning(
        two, nprocs=2, work_dir=tmp_path / "work", threads_per_process=1, timeout_s=LAUNCH_TIMEOUT_S
    )
    # one process taking both processes' micro-batches in each step
    alone = run_unlearning(spec_for(engine_world, tmp_path / "one", grad_accum=2, **common))

    assert result.stop_reason == "max_steps" and result.steps_done == 6
    assert seen == [(2, 6), (4, 6), (6, 6)]  # rank 0's progress, relayed to the caller's callback
    assert result.manifest["run"]["world_size"] == 2 and result.manifest["run"]["strategy"] == "ddp"
    for row, single in zip(result.history, alone.history, strict=True):
        assert row["train/tokens"] == single["train/tokens"]  # summed over processes
        assert row["forget/npo"] == pytest.approx(single["forget/npo"], abs=1e-5)  # averaged (measured 1e-6)
    assert not (tmp_path / "work" / "spec.json").exists()  # item texts do not outlive the launch
    merged, expected, parent = (
        weights(result.artifact_dir),
        weights(alone.artifact_dir),
        weights(engine_world.model_dir),
    )
    assert any(float((merged[n] - parent[n]).abs().max()) > 1e-4 for n in parent)
    for name, tensor in expected.items():
        torch.testing.assert_close(merged[name], tensor, **TOLERANCE)


def test_a_killed_rank_fails_the_attempt_and_the_next_resumes_from_the_checkpoint(engine_world, tmp_path):
    common = dict(
        mode="full",
        learning_rate=3e-3,
        max_steps=8,
        log_every=2,
        forget_batch_size=2,
        retain_batch_size=3,
        checkpoint_every=4,
    )
    work = tmp_path / "attempt-1"
    pids = {}

    def kill_rank_1_after_the_checkpoint(step, total, figures):
        if step == 4:  # rank 0 waits for this answer; its partner dies meanwhile
            pids.update({rank: int((work / f"rank-{rank}.pid").read_text()) for rank in (0, 1)})
            os.kill(pids[1], signal.SIGKILL)

    spec = spec_for(
        engine_world,
        tmp_path,
        checkpoint_dir=tmp_path / "ckpt",
        progress=kill_rank_1_after_the_checkpoint,
        **common,
    )
    with pytest.raises(RankFailed):
        launch_unlearning(spec, nprocs=2, work_dir=work, threads_per_process=1, timeout_s=LAUNCH_TIMEOUT_S)
    assert not alive(pids[0]) and not alive(pids[1])  # no rank outlives the failed attempt
    assert sorted(p.name for p in (tmp_path / "ckpt").iterdir()) == ["step-00000004"]
    assert not (tmp_path / "artifact").exists()

    spec.progress = None
    resumed = launch_unlearning(
        spec, nprocs=2, work_dir=tmp_path / "attempt-2", threads_per_process=1, timeout_s=LAUNCH_TIMEOUT_S
    )
    alone = run_unlearning(spec_for(engine_world, tmp_path / "one", grad_accum=2, **common))

    assert resumed.resumed_from_step == 4 and resumed.steps_done == 8 and resumed.ok
    assert [row["step"] for row in resumed.history] == [2, 4, 6, 8]
    assert not (tmp_path / "ckpt").exists() or not any((tmp_path / "ckpt").iterdir())
    trained, expected = weights(resumed.artifact_dir), weights(alone.artifact_dir)
    for name, tensor in expected.items():
        torch.testing.assert_close(trained[name], tensor, **TOLERANCE)


def test_the_spec_file_round_trips_every_setting(engine_world, tmp_path):
    spec = spec_for(
        engine_world,
        tmp_path,
        method="dpo",
        method_config={"beta": 0.2},
        stop={"max_retain_nll_rise": 0.5},
        parallel={"strategy": "ddp"},
        checkpoint_dir=tmp_path / "ckpt",
    )

    again = spec_from_dict(spec_to_dict(spec))

    assert again.describe() == spec.describe()
    assert again.forget_items == spec.forget_items and again.retain_items == spec.retain_items
    assert (again.parallel, again.checkpoint_dir, again.model_dir) == (
        spec.parallel,
        spec.checkpoint_dir,
        spec.model_dir,
    )


def test_progress_file_waits_for_the_launchers_answer_and_cancels_on_it(tmp_path):
    reporter = FileProgress(tmp_path, wait_for_ack=True, launcher_pid=os.getpid())
    (tmp_path / "ack-1").write_text("continue")
    (tmp_path / "ack-2").write_text("cancel")

    assert reporter(2, 10, {"loss/total": 1.0}) is True
    assert reporter(4, 10, {"loss/total": 0.5}) is False
    assert len((tmp_path / "progress.jsonl").read_text().splitlines()) == 2


def test_launch_refuses_a_used_work_dir(engine_world, tmp_path):
    (tmp_path / "work").mkdir()
    (tmp_path / "work" / "result.json").write_text("{}")

    with pytest.raises(ValueError, match="not empty"):
        launch_unlearning(spec_for(engine_world, tmp_path), nprocs=2, work_dir=tmp_path / "work")


def test_auto_strategy_shards_what_does_not_fit_one_device(engine_world):
    tiny = model_shape(engine_world.model_dir)
    llama_70b = type(tiny)(hidden=8192, layers=80, intermediate=28672, heads=64, kv_heads=8, vocab=128256)

    assert choose_strategy(tiny, "full", 80 * 2**30) == "ddp"
    assert choose_strategy(llama_70b, "lora", 80 * 2**30) == "fsdp"  # 141 GB of bf16 weights alone
    assert choose_strategy(llama_70b, "full", None) == "ddp"  # CPU process groups: DDP only
    assert memory_per_device(llama_70b, "full", shards=8).weights == pytest.approx(4 * llama_70b.params / 8)
