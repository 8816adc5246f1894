"""`run_unlearning`: load the model, build reference outputs, train with checkpoints and stopping rules,
write the artifact. The loop syncs with the device only every `log_every` steps."""

from __future__ import annotations

import math
import time
from contextlib import nullcontext
from functools import partial

import torch
from transformers import AutoTokenizer

from palimpsest.hashing import canonical_json, sha256_hex
from unlearn_jobs.engine import distributed
from unlearn_jobs.engine.artifact import file_hashes, items_digest, tree_sha256, write_artifact
from unlearn_jobs.engine.checkpoint import Checkpointer
from unlearn_jobs.engine.data import BatchPlan, collate, encode_items
from unlearn_jobs.engine.forward import ReferenceOutputs, side_forward
from unlearn_jobs.engine.methods import METHODS
from unlearn_jobs.engine.methods.base import ForgetRetainBatch
from unlearn_jobs.engine.progress import LogWindow, StopState
from unlearn_jobs.engine.setup import (
    load_model,
    make_optimizer,
    make_scheduler,
    resolve_bf16,
    resolve_device,
    seed_everything,
)
from unlearn_jobs.engine.spec import UnlearnResult, UnlearnSpec


def spec_fingerprint(spec: UnlearnSpec, forget_digest: dict, retain_digest: dict) -> str:
    """Identity of a job for checkpoints: settings and item hashes (a path may differ between workers).
    Where it runs (device type, precision) is the checkpoint's `runtime`, checked separately."""
    body = {
        "spec": spec.describe(),
        "forget": forget_digest["set_sha256"],
        "retain": retain_digest["set_sha256"],
        "parent": spec.parent_model_sha256,
    }
    return sha256_hex(canonical_json(body))


def run_unlearning(spec: UnlearnSpec) -> UnlearnResult:
    """Train as `spec` says. One process runs the plain loop; a process group (WORLD_SIZE > 1, see
    launch.py) runs the same loop with each process on its share of the micro-batches."""
    seed_everything(spec.seed)
    device = resolve_device(spec.device)
    bf16 = resolve_bf16(spec.precision, device)
    dist = distributed.setup(spec, device, bf16)
    device = dist.device
    autocast = partial(torch.autocast, device.type, dtype=torch.bfloat16) if bf16 else nullcontext
    method, cfg = METHODS[spec.method], spec.method_config

    tokenizer = AutoTokenizer.from_pretrained(spec.model_dir)
    pad_id = next(t for t in (tokenizer.pad_token_id, tokenizer.eos_token_id, 0) if t is not None)
    forget_items = (
        method.prepare_forget(spec.forget_items, cfg) if method.prepare_forget else spec.forget_items
    )
    forget_enc = encode_items(tokenizer, forget_items, spec.max_length, mask_protected=spec.mask_protected)
    retain_enc = encode_items(tokenizer, spec.retain_items, spec.max_length)
    chosen_items = method.prepare_chosen(spec.forget_items, cfg) if method.prepare_chosen else []
    chosen_enc = encode_items(tokenizer, chosen_items, spec.max_length)
    forget_plan = BatchPlan(forget_enc, spec.forget_batch_size, spec.seed, stream=0)
    retain_plan = BatchPlan(retain_enc, spec.retain_batch_size, spec.seed, stream=1) if retain_enc else None
    forget_digest, retain_digest = items_digest(spec.forget_items), items_digest(spec.retain_items)

    # LoRA keeps the frozen base in bf16 on GPU; full mode keeps fp32 master weights under autocast.
    # A sharding wrapper places the shards itself: the whole model never goes to one device.
    load_dtype = torch.bfloat16 if bf16 and spec.mode == "lora" else torch.float32
    model = load_model(spec, load_dtype, None if dist.shards_parameters else device)
    config = model.config
    hidden_layer = method.hidden_layer(cfg, config.num_hidden_layers) if method.hidden_layer else None

    if spec.max_steps is not None:
        total_steps = spec.max_steps
    else:  # each optimiser step takes grad_accum micro-batches on every process
        per_step = spec.grad_accum * dist.world_size
        total_steps = max(
            1, spec.min_steps, math.ceil(spec.epochs * forget_plan.batches_per_epoch / per_step)
        )
    optimizer = make_optimizer([p for p in model.parameters() if p.requires_grad], spec)
    scheduler = make_scheduler(optimizer, spec, total_steps)
    if spec.compile:  # the decoder is what side_forward calls; shapes vary with the buckets
        (model.get_base_model() if spec.mode == "lora" else model).get_decoder().compile(dynamic=True)
    side = dist.prepare(model, optimizer, scheduler)
    optimizer = dist.optimizer
    params = [p for p in side.parameters() if p.requires_grad]

    guard = spec.stop.guards_retain
    reference = ReferenceOutputs(
        side,
        method,
        mode=spec.mode,
        hidden_layer=hidden_layer,
        max_bytes=spec.ref_cache_max_bytes,
        autocast=autocast,
        inner=model,
        may_copy=not dist.shards_parameters,
    )
    reference.build(
        forget_plan.all_batches(pad_id),
        retain_plan.all_batches(pad_id) if retain_plan else [],
        len(forget_enc),
        len(retain_enc),
        config.vocab_size,
        want_retain_nll=guard,
        chosen_batches=BatchPlan(chosen_enc, spec.forget_batch_size, spec.seed, 2).all_batches(pad_id)
        if chosen_enc
        else (),
    )
    state = {}
    if method.init_state:
        stats = {
            "seed": spec.seed,
            "hidden_size": config.hidden_size,
            "device": device,
            "forget_norm": reference.forget_hidden_norm,
        }
        state = method.init_state(cfg, stats)

    step, history, stopper, resumed_from = 0, [], StopState(), 0
    checkpointer = None
    if spec.checkpoint_dir is not None:
        checkpointer = Checkpointer(
            spec.checkpoint_dir,
            spec_fingerprint(spec, forget_digest, retain_digest),
            spec.keep_checkpoints,
            runtime=dist.runtime("bf16" if bf16 else "fp32"),
        )
        latest = checkpointer.latest() if spec.resume else None
        payload = checkpointer.load(latest, dist) if latest is not None else None
        if latest is not None and payload is None:
            # written on another runtime: its weights, optimiser moments and loss history belong to other
            # numerics, so this run starts fresh and the stale checkpoints go (once every process read them)
            dist.barrier()
            if dist.is_main:
                checkpointer.clear()
        if payload is not None:
            step = resumed_from = payload["step"]
            history, stopper = payload["history"], StopState(**payload["stopper"])

    use_retain = retain_plan is not None and (method.uses_retain or guard)
    window, tokens, stop_reason = LogWindow(), 0, "max_steps"
    tokens_before = history[-1]["train/tokens"] if history else 0
    started = time.perf_counter()
    side.train()
    while step < total_steps:
        for accum in range(spec.grad_accum):
            index = (step * spec.grad_accum + accum) * dist.world_size + dist.rank
            f_micro = forget_plan.micro_batch(index, pad_id)
            f_dev = f_micro.to(device)
            # gradients are reduced once per optimiser step, on its last micro-batch
            with dist.no_sync(accum == spec.grad_accum - 1):
                with autocast():
                    forget = side_forward(side, f_dev, hidden_layer=hidden_layer)
                    reference.fill_forget(forget, f_dev)
                    retain = chosen = None
                    tokens += f_micro.n_tokens
                    if chosen_enc:  # DPO: the same items' preferred answers, in the same rows
                        c_micro = collate(chosen_enc, f_micro.item_index.tolist(), pad_id)
                        tokens += c_micro.n_tokens
                        c_dev = c_micro.to(device)
                        chosen = side_forward(side, c_dev)
                        reference.fill_chosen(chosen, c_dev)
                    if use_retain:
                        r_micro = retain_plan.micro_batch(index, pad_id)
                        r_dev = r_micro.to(device)
                        tokens += r_micro.n_tokens
                        grad_ctx = nullcontext() if method.uses_retain else torch.no_grad()
                        with grad_ctx:
                            retain = side_forward(
                                side, r_dev, dist=method.retain_dist, hidden_layer=hidden_layer
                            )
                        reference.fill_retain(retain, r_dev)
                    losses = method.loss(ForgetRetainBatch(forget, retain, state, chosen), cfg)
                dist.backward(losses.total, spec.grad_accum)
            parts = dict(losses.parts)
            if retain is not None and "retain/nll" not in parts:
                parts["retain/nll"] = retain.nll.detach()
            window.add(parts, 1.0 / spec.grad_accum)
        if spec.max_grad_norm is not None:
            dist.clip(params, spec.max_grad_norm)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        step += 1
        window.end_step()
        checkpoint_due = checkpointer is not None and step % spec.checkpoint_every == 0 and step < total_steps
        if step % spec.log_every == 0 or step == total_steps or checkpoint_due:
            means, per_step = window.flush(dist.mean)
            row = {
                "step": step,
                "train/lr": scheduler.get_last_lr()[0],
                "train/tokens": tokens_before + dist.total(tokens),
                **means,
            }
            history.append(row)
            reason = stopper.check(spec.stop, means, per_step, reference.initial_retain_nll)
            # the checkpoint is durable before progress is reported: a reported step is never lost
            if checkpoint_due and not reason:
                checkpointer.save(step, dist, {"history": history, "stopper": stopper.to_dict()})
            if not reason and spec.progress is not None and dist.is_main:
                if spec.progress(step, total_steps, dict(row)) is False:
                    reason = "cancelled"
            reason = dist.agree(reason)
            if reason:
                stop_reason = reason
                break
    seconds = time.perf_counter() - started
    tokens = dist.total(tokens)

    final = dict(history[-1]) if history else {}
    final.update({"train/seconds": seconds, "train/tokens_per_s": tokens / seconds if seconds > 0 else 0.0})
    if "steering_coeff" in state:
        final["rmu/steering_coeff"] = state["steering_coeff"]
    if reference.initial_retain_nll is not None:
        final["retain/initial_nll"] = reference.initial_retain_nll
    result = UnlearnResult(
        artifact_dir=None,
        steps_done=step,
        total_steps=total_steps,
        stop_reason=stop_reason,
        final_figures=final,
        history=history,
        resumed_from_step=resumed_from,
    )
    # a collapsed model is reported, never written: the caller must not be able to publish it by accident
    if spec.write_artifact and stop_reason != "retain_budget_exceeded":
        # a sharded model is gathered (every process takes part); the main process writes
        whole = dist.final_model(partial(load_model, spec, torch.float32, torch.device("cpu")))
        if dist.is_main:
            run = {
                "steps_done": step,
                "total_steps": total_steps,
                "stop_reason": stop_reason,
                "resumed_from_step": resumed_from,
                "seed": spec.seed,
                **dist.runtime("bf16" if bf16 else "fp32"),
                "final_figures": final,
            }
            write_job_artifact(spec, whole, tokenizer, forget_digest, retain_digest, run, result)
            if checkpointer is not None:
                checkpointer.clear()
        dist.barrier()
    return result


def write_job_artifact(spec, model, tokenizer, forget_digest, retain_digest, run, result) -> None:
    parent_sha = spec.parent_model_sha256 or tree_sha256(file_hashes(spec.model_dir))
    manifest = {
        "parent_model": {"sha256": parent_sha, "path": str(spec.model_dir)},
        "settings": spec.describe(),
        "forget_items": forget_digest,
        "retain_items": retain_digest,
        "run": run,
    }
    result.artifact_dir, result.manifest = write_artifact(
        output_dir=spec.output_dir,
        model=model,
        tokenizer=tokenizer,
        mode=spec.mode,
        model_dir=spec.model_dir,
        manifest=manifest,
    )
