"""run_unlearning end to end on the tiny world: it forgets, keeps, writes a loadable artifact with an
honest manifest, resumes bitwise from checkpoints and stops for the reasons it says."""

from __future__ import annotations

import json

import pytest
import torch
from peft import PeftModel
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM

from tests.unlearn_jobs.engine.conftest import Killed, mean_nll, spec_for, weights
from unlearn_jobs.engine import LoraSettings, StopRules, run_unlearning
from unlearn_jobs.engine.artifact import sha256_file


@pytest.mark.parametrize("method", ["grad_diff", "npo", "simnpo", "kl"])
def test_forget_nll_rises_while_retain_nll_stays_within_bound(engine_world, tmp_path, method):
    base = AutoModelForCausalLM.from_pretrained(engine_world.model_dir)
    forget_before = mean_nll(base, engine_world.model_dir, engine_world.forget_items)
    retain_before = mean_nll(base, engine_world.model_dir, engine_world.retain_items)

    result = run_unlearning(spec_for(engine_world, tmp_path, method=method, learning_rate=5e-3))

    unlearned = AutoModelForCausalLM.from_pretrained(result.artifact_dir)
    forget_after = mean_nll(unlearned, result.artifact_dir, engine_world.forget_items)
    retain_after = mean_nll(unlearned, result.artifact_dir, engine_world.retain_items)
    assert result.stop_reason == "max_steps" and result.steps_done == 12
    assert forget_after - forget_before > 0.4  # measured 0.56 (simnpo) to 1.3 (npo, kl)
    assert retain_after - retain_before < 0.4  # measured 0.01 (simnpo) to 0.28 (npo)
    assert forget_after - forget_before > retain_after - retain_before
    assert [row["step"] for row in result.history] == [4, 8, 12]
    assert result.final_figures["forget/nll"] > result.history[0]["forget/nll"]


def test_lora_changes_only_adapters_and_merged_equals_adapter_on_base(engine_world, tmp_path):
    result = run_unlearning(spec_for(engine_world, tmp_path, method="npo"))

    before, merged = weights(engine_world.model_dir), weights(result.artifact_dir)
    adapter = load_file(str(result.artifact_dir / "adapter" / "adapter_model.safetensors"))
    assert adapter and all("lora_" in name for name in adapter)
    assert any(float(t.abs().sum()) > 0 for name, t in adapter.items() if "lora_B" in name)
    for name, tensor in before.items():
        if "proj" in name:  # adapted: merged = base + (alpha/r)·B·A, so the base itself is unchanged
            stem = "base_model.model." + name.removesuffix(".weight")
            low_rank = 2.0 * adapter[f"{stem}.lora_B.weight"] @ adapter[f"{stem}.lora_A.weight"]
            assert float(low_rank.abs().max()) > 0, name
            torch.testing.assert_close(merged[name] - low_rank, tensor, atol=1e-6, rtol=0)
        else:  # embeddings, norms, head: untouched
            torch.testing.assert_close(merged[name], tensor, rtol=0, atol=0)

    base = AutoModelForCausalLM.from_pretrained(engine_world.model_dir)
    on_base = PeftModel.from_pretrained(base, result.artifact_dir / "adapter").eval()
    reloaded = AutoModelForCausalLM.from_pretrained(result.artifact_dir).eval()
    ids = torch.tensor([[2, 5, 9, 11, 4, 7, 3]])
    with torch.no_grad():
        torch.testing.assert_close(reloaded(ids).logits, on_base(ids).logits, atol=1e-5, rtol=1e-5)


def test_full_mode_changes_the_base_weights(engine_world, tmp_path):
    result = run_unlearning(spec_for(engine_world, tmp_path, mode="full", learning_rate=3e-3, max_steps=4))

    before, after = weights(engine_world.model_dir), weights(result.artifact_dir)
    assert not (result.artifact_dir / "adapter").exists()
    for name in ("model.embed_tokens.weight", "lm_head.weight", "model.layers.0.mlp.down_proj.weight"):
        assert float((after[name] - before[name]).abs().max()) > 1e-4, name


@pytest.mark.parametrize("method", ["refusal", "dpo"])
def test_refusal_methods_lower_the_refusal_nll(engine_world, tmp_path, method):
    result = run_unlearning(spec_for(engine_world, tmp_path, method=method, max_steps=8))

    assert result.history[-1]["forget/idk_nll"] < result.history[0]["forget/idk_nll"] - 0.1


def test_manifest_holds_hashes_not_text(engine_world, tmp_path):
    result = run_unlearning(spec_for(engine_world, tmp_path, max_steps=2))

    raw = (result.artifact_dir / "manifest.json").read_text()
    manifest = json.loads(raw)
    for item in engine_world.forget_items + engine_world.retain_items:
        assert item.text.strip() not in raw
        assert not item.prompt or item.prompt not in raw
        for protected in item.protected:
            assert protected not in raw
    assert manifest["forget_items"]["count"] == len(engine_world.forget_items)
    assert all(len(entry["sha256"]) == 64 for entry in manifest["forget_items"]["items"])
    assert manifest["forget_items"]["items"][0]["item_id"] == "jane-0"
    files = manifest["artifact"]["files"]
    assert {"model.safetensors", "config.json", "tokenizer.json", "adapter/adapter_model.safetensors"} <= set(
        files
    )
    for rel, digest in files.items():
        assert sha256_file(result.artifact_dir / rel) == digest
    assert len(manifest["parent_model"]["sha256"]) == 64
    assert manifest["settings"]["method"] == "grad_diff" and manifest["settings"]["seed"] == 7
    assert manifest["versions"]["torch"] == torch.__version__
    assert not list(tmp_path.glob(".artifact.tmp-*"))


def test_resume_after_a_kill_ends_bitwise_equal_to_an_uninterrupted_run(engine_world, tmp_path):
    common = dict(
        keep_checkpoints=1,
        method="npo",
        max_steps=10,
        grad_accum=2,
        checkpoint_every=3,
        log_every=1,
        lora=LoraSettings(r=4, alpha=8, dropout=0.1),
        schedule="cosine",
        warmup_steps=2,
    )
    straight = run_unlearning(
        spec_for(engine_world, tmp_path / "a", checkpoint_dir=tmp_path / "a-ckpt", **common)
    )

    def kill_at_step_8(step, total, figures):
        if step == 8:
            raise Killed

    with pytest.raises(Killed):
        run_unlearning(
            spec_for(
                engine_world,
                tmp_path / "b",
                checkpoint_dir=tmp_path / "b-ckpt",
                progress=kill_at_step_8,
                **common,
            )
        )
    assert sorted(p.name for p in (tmp_path / "b-ckpt").iterdir()) == ["step-00000006"]  # keeps the last 1
    resumed = run_unlearning(
        spec_for(engine_world, tmp_path / "b", checkpoint_dir=tmp_path / "b-ckpt", **common)
    )

    assert resumed.resumed_from_step == 6 and resumed.steps_done == 10
    a, b = weights(straight.artifact_dir), weights(resumed.artifact_dir)
    assert all(torch.equal(a[name], b[name]) for name in a)
    assert [r["forget/nll"] for r in straight.history] == [r["forget/nll"] for r in resumed.history]
    assert not any((tmp_path / "b-ckpt").iterdir())  # cleared once the artifact exists


def test_checkpoint_of_another_spec_is_refused(engine_world, tmp_path):
    def kill(step, total, figures):
        raise Killed

    with pytest.raises(Killed):
        run_unlearning(
            spec_for(
                engine_world, tmp_path, checkpoint_dir=tmp_path / "ckpt", checkpoint_every=4, progress=kill
            )
        )
    with pytest.raises(ValueError, match="different spec"):
        run_unlearning(spec_for(engine_world, tmp_path, checkpoint_dir=tmp_path / "ckpt", learning_rate=5e-3))


def test_stops_when_the_forget_target_is_reached(engine_world, tmp_path):
    target = StopRules(forget_nll_target=0.0, patience=3)
    result = run_unlearning(spec_for(engine_world, tmp_path, max_steps=40, log_every=2, stop=target))

    assert result.stop_reason == "forget_target_reached" and result.steps_done == 4
    assert result.ok and result.artifact_dir is not None


def test_collapse_guard_stops_and_writes_no_artifact(engine_world, tmp_path):
    guard = StopRules(max_retain_nll_rise=0.2)
    result = run_unlearning(
        spec_for(
            engine_world,
            tmp_path,
            method="ga",
            mode="full",
            learning_rate=5e-2,
            max_steps=40,
            log_every=2,
            stop=guard,
        )
    )

    assert result.stop_reason == "retain_budget_exceeded" and not result.ok
    assert result.steps_done < 40 and result.artifact_dir is None
    assert result.final_figures["retain/nll"] > result.final_figures["retain/initial_nll"] + 0.2
    assert not (tmp_path / "artifact").exists()


def test_progress_callback_sees_every_log_and_can_cancel(engine_world, tmp_path):
    seen = []

    def progress(step, total, figures):
        seen.append((step, total, sorted(figures)))
        return step < 8

    result = run_unlearning(spec_for(engine_world, tmp_path, progress=progress))

    assert [s[:2] for s in seen] == [(4, 12), (8, 12)]
    assert {"forget/nll", "retain/nll", "loss/total", "train/lr"} <= set(seen[0][2])
    assert result.stop_reason == "cancelled" and result.steps_done == 8


@pytest.mark.parametrize("mode", ["lora", "full"])
def test_reference_recomputed_per_step_when_too_big_to_cache_gives_the_same_model(
    engine_world, tmp_path, mode
):
    common = dict(method="kl", mode=mode, max_steps=4, learning_rate=3e-3)
    cached = run_unlearning(spec_for(engine_world, tmp_path / "cached", **common))
    fresh = run_unlearning(spec_for(engine_world, tmp_path / "fresh", ref_cache_max_bytes=1, **common))

    a, b = weights(cached.artifact_dir), weights(fresh.artifact_dir)
    assert any(not torch.equal(a[name], weights(engine_world.model_dir)[name]) for name in a)
    for name in a:
        torch.testing.assert_close(a[name], b[name], atol=1e-5, rtol=1e-4)


def test_epochs_count_passes_over_the_forget_set_and_a_rerun_replaces_the_artifact(engine_world, tmp_path):
    spec = spec_for(engine_world, tmp_path, max_steps=None, epochs=2.0, forget_batch_size=4, log_every=1)
    first = run_unlearning(spec)
    (first.artifact_dir / "stale.txt").write_text("left by an earlier attempt")

    second = run_unlearning(spec)

    assert first.total_steps == 4 and first.steps_done == 4  # 6 forget items, batches of 4 -> 2 per epoch
    assert second.artifact_dir == first.artifact_dir and not (second.artifact_dir / "stale.txt").exists()
    assert json.loads((second.artifact_dir / "manifest.json").read_text())["run"]["steps_done"] == 4
    assert [p.name for p in tmp_path.iterdir()] == ["artifact"]  # no temporary or old directory left


def test_a_small_job_trains_at_least_its_minimum_steps(engine_world, tmp_path):
    # 6 forget items in batches of 4 are 2 steps an epoch: 2 epochs would be 4 steps
    floor = run_unlearning(spec_for(engine_world, tmp_path / "a", max_steps=None, epochs=2.0, min_steps=7))
    above = run_unlearning(spec_for(engine_world, tmp_path / "b", max_steps=None, epochs=5.0, min_steps=7))
    assert (floor.total_steps, floor.steps_done) == (7, 7)
    assert above.total_steps == 10  # the floor does not bind a job whose epochs are more steps
    with pytest.raises(ValueError, match="min_steps"):
        spec_for(engine_world, tmp_path, max_steps=None, epochs=1.0, min_steps=-1)


def _name_and_fact_nll(model_dir, world) -> tuple[float, float]:
    """NLL of the forgotten people's names and of the rest of their answers, given the questions."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir).eval()
    name, fact = [], []
    with torch.no_grad():
        for item in world.forget_items:
            prompt = tokenizer(item.prompt)["input_ids"]
            answer = tokenizer(item.text, add_special_tokens=False)["input_ids"]
            ids = torch.tensor([prompt + answer])
            logp = torch.log_softmax(model(ids).logits[0, :-1].float(), -1)
            picked = -logp.gather(1, ids[0, 1:, None]).squeeze(1)[len(prompt) - 1 :]
            words = tokenizer.convert_ids_to_tokens(answer)
            for word, value in zip(words, picked.tolist(), strict=True):
                (name if word in item.protected[0].split() else fact).append(value)
    return sum(name) / len(name), sum(fact) / len(fact)


def test_with_the_name_masked_the_facts_go_and_the_name_stays_writable(engine_world, tmp_path):
    # Given the same job with and without the person's name masked out of the forget loss
    runs = {}
    for masked in (True, False):
        spec = spec_for(
            engine_world,
            tmp_path / str(masked),
            method="simnpo",
            mode="full",
            learning_rate=3e-3,
            max_steps=24,
            mask_protected=masked,
        )
        runs[masked] = _name_and_fact_nll(run_unlearning(spec).artifact_dir, engine_world)
    name_before, fact_before = _name_and_fact_nll(engine_world.model_dir, engine_world)
    # Then both forget the facts, but only the unmasked run does it partly by making the name unwritable
    for _, fact_after in runs.values():
        assert fact_after > fact_before + 1.0
    assert runs[False][0] - name_before > 2 * (runs[True][0] - name_before)
