"""Each method's loss on a fixed batch equals a hand computation from the plain Hugging Face forward."""

from __future__ import annotations

import copy
import math
from contextlib import nullcontext

import pytest
import torch
import torch.nn.functional as F
from transformers import AutoTokenizer, LlamaForCausalLM

from unlearn_jobs.engine import METHODS, ForgetRetainBatch
from unlearn_jobs.engine.data import collate, encode_items
from unlearn_jobs.engine.forward import ReferenceOutputs, side_forward
from unlearn_jobs.engine.methods import (
    DPOConfig,
    GAConfig,
    GradDiffConfig,
    KLConfig,
    NPOConfig,
    RefusalConfig,
    RMUConfig,
    SimNPOConfig,
)


def engine_losses(world, name, cfg):
    """The engine's path: bucket-padded micro-batches, cached reference, head on target positions only.
    The policy is the reference model with seeded noise added, as if it had trained a while."""
    tokenizer = AutoTokenizer.from_pretrained(world.model_dir)
    model = LlamaForCausalLM.from_pretrained(world.model_dir)
    method = METHODS[name]
    forget_items = (
        method.prepare_forget(world.forget_items, cfg) if method.prepare_forget else world.forget_items
    )
    forget_enc = encode_items(tokenizer, forget_items, 64)
    retain_enc = encode_items(tokenizer, world.retain_items, 64)
    layer = method.hidden_layer(cfg, model.config.num_hidden_layers) if method.hidden_layer else None
    forget_mb = collate(forget_enc, range(len(forget_enc)), tokenizer.pad_token_id)
    retain_mb = collate(retain_enc, range(len(retain_enc)), tokenizer.pad_token_id)
    reference = ReferenceOutputs(
        model, method, mode="full", hidden_layer=layer, max_bytes=1 << 30, autocast=nullcontext
    )
    chosen_enc, chosen_mb = [], None
    if method.prepare_chosen:
        chosen_enc = encode_items(tokenizer, method.prepare_chosen(world.forget_items, cfg), 64)
        chosen_mb = collate(chosen_enc, range(len(chosen_enc)), tokenizer.pad_token_id)
    reference.build(
        [forget_mb],
        [retain_mb],
        len(forget_enc),
        len(retain_enc),
        model.config.vocab_size,
        want_retain_nll=True,
        chosen_batches=[chosen_mb] if chosen_mb else (),
    )
    reference_model = copy.deepcopy(model)
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for param in model.parameters():
            param.add_(0.05 * torch.randn(param.shape, generator=generator))
    state = {}
    if method.init_state:
        state = method.init_state(
            cfg,
            {
                "seed": 3,
                "hidden_size": 16,
                "device": torch.device("cpu"),
                "forget_norm": reference.forget_hidden_norm,
            },
        )
    forget = side_forward(model, forget_mb, hidden_layer=layer)
    reference.fill_forget(forget, forget_mb)
    retain = side_forward(model, retain_mb, dist=method.retain_dist, hidden_layer=layer)
    reference.fill_retain(retain, retain_mb)
    chosen = None
    if chosen_mb is not None:
        chosen = side_forward(model, chosen_mb)
        reference.fill_chosen(chosen, chosen_mb)
    losses = method.loss(ForgetRetainBatch(forget, retain, state, chosen), cfg)
    state["chosen_enc"] = chosen_enc
    return losses, model, reference_model, forget_enc, retain_enc, state


def hand_outputs(model, encoded, layer=None):
    """Per item, unpadded: target log-probs, full log-prob rows at target positions, layer states."""
    rows = []
    with torch.no_grad():
        for enc in encoded:
            ids = torch.tensor([enc.input_ids])
            out = model(ids, output_hidden_states=layer is not None)
            logp = torch.log_softmax(out.logits[0].float(), -1)
            first = max(enc.n_prompt, 1)
            full = logp[first - 1 : -1]
            token = full.gather(1, ids[0, first:, None]).squeeze(1)
            hidden = out.hidden_states[layer + 1][0] if layer is not None else None
            rows.append((token, full, hidden))
    return rows


def nll(rows):
    return -torch.cat([token for token, _, _ in rows]).mean()


def check(losses, expected, *keys):
    torch.testing.assert_close(
        losses.total.detach(), torch.as_tensor(expected, dtype=torch.float32), atol=1e-5, rtol=1e-5
    )
    assert {"loss/total", *keys} <= set(losses.parts)
    assert all(not value.requires_grad for value in losses.parts.values())


def test_ga_is_negative_forget_nll(engine_world):
    losses, model, _, forget_enc, _, _ = engine_losses(engine_world, "ga", GAConfig(gamma=0.7))
    check(losses, -0.7 * nll(hand_outputs(model, forget_enc)), "forget/nll")


def test_grad_diff_weights_both_terms(engine_world):
    losses, model, _, forget_enc, retain_enc, _ = engine_losses(
        engine_world, "grad_diff", GradDiffConfig(gamma=0.7, alpha=1.3)
    )
    expected = -0.7 * nll(hand_outputs(model, forget_enc)) + 1.3 * nll(hand_outputs(model, retain_enc))
    check(losses, expected, "forget/nll", "retain/nll")


def test_kl_anchors_retain_to_the_reference(engine_world):
    losses, model, ref, forget_enc, retain_enc, _ = engine_losses(engine_world, "kl", KLConfig(alpha=2.0))
    now, before = hand_outputs(model, retain_enc), hand_outputs(ref, retain_enc)
    logp, ref_logp = torch.cat([f for _, f, _ in now]), torch.cat([f for _, f, _ in before])
    kl = (ref_logp.exp() * (ref_logp - logp)).sum(-1).mean()
    assert kl > 1e-4  # the perturbation moved the policy: the KL term is not trivially zero
    check(losses, -nll(hand_outputs(model, forget_enc)) + 2.0 * kl, "forget/nll", "retain/kl")


def test_npo_uses_cached_reference_log_probs(engine_world):
    cfg = NPOConfig(beta=0.5, alpha=0.8)
    losses, model, ref, forget_enc, retain_enc, _ = engine_losses(engine_world, "npo", cfg)
    seq = torch.stack([t.sum() for t, _, _ in hand_outputs(model, forget_enc)])
    ref_seq = torch.stack([t.sum() for t, _, _ in hand_outputs(ref, forget_enc)])
    forget = -(2 / 0.5) * F.logsigmoid(-0.5 * (seq - ref_seq)).mean()
    assert abs(float(forget) - (2 / 0.5) * math.log(2)) > 1e-3  # log ratio is not zero
    check(
        losses, forget + 0.8 * nll(hand_outputs(model, retain_enc)), "forget/npo", "forget/nll", "retain/nll"
    )


def test_simnpo_is_length_normalised(engine_world):
    cfg = SimNPOConfig(beta=4.5, delta=0.3, gamma=1.2, alpha=0.5)
    losses, model, _, forget_enc, retain_enc, _ = engine_losses(engine_world, "simnpo", cfg)
    mean_nll = torch.stack([-t.sum() / t.numel() for t, _, _ in hand_outputs(model, forget_enc)])
    forget = -(2 / 4.5) * F.logsigmoid(4.5 * mean_nll - 0.3).mean()
    check(losses, 1.2 * forget + 0.5 * nll(hand_outputs(model, retain_enc)), "forget/simnpo", "retain/nll")


def test_rmu_steers_forget_states_and_pins_retain_states(engine_world):
    cfg = RMUConfig(layer=0, steering_scale=3.0, alpha=50.0)
    losses, model, ref, forget_enc, retain_enc, state = engine_losses(engine_world, "rmu", cfg)
    ref_forget = torch.cat([h for _, _, h in hand_outputs(ref, forget_enc, layer=0)])
    coeff = 3.0 * ref_forget.norm(dim=-1).mean()
    direction = torch.rand(16, generator=torch.Generator().manual_seed(3))
    control = coeff * direction / direction.norm()
    torch.testing.assert_close(state["control"], control, atol=1e-5, rtol=1e-5)
    forget_h = torch.cat([h for _, _, h in hand_outputs(model, forget_enc, layer=0)])
    retain_h = torch.cat([h for _, _, h in hand_outputs(model, retain_enc, layer=0)])
    retain_ref = torch.cat([h for _, _, h in hand_outputs(ref, retain_enc, layer=0)])
    expected = ((forget_h - control) ** 2).mean() + 50.0 * ((retain_h - retain_ref) ** 2).mean()
    check(losses, expected, "forget/rmu_mse", "retain/rmu_mse")


def test_refusal_teaches_refusals_on_forget_prompts(engine_world):
    cfg = RefusalConfig(alpha=0.5)
    losses, model, _, forget_enc, retain_enc, _ = engine_losses(engine_world, "refusal", cfg)
    tokenizer = AutoTokenizer.from_pretrained(engine_world.model_dir)
    trained_on = tokenizer.decode(forget_enc[0].input_ids[forget_enc[0].n_prompt :])
    assert "know that person" in trained_on and "Lisbon" not in trained_on
    check(
        losses,
        nll(hand_outputs(model, forget_enc)) + 0.5 * nll(hand_outputs(model, retain_enc)),
        "forget/idk_nll",
        "retain/nll",
    )


def test_dpo_prefers_the_refusal_over_the_original_answer(engine_world):
    cfg = DPOConfig(beta=0.5, alpha=0.3)
    losses, model, ref, forget_enc, retain_enc, state = engine_losses(engine_world, "dpo", cfg)
    chosen_enc = state["chosen_enc"]
    assert [e.input_ids[: e.n_prompt] for e in chosen_enc] == [e.input_ids[: e.n_prompt] for e in forget_enc]

    def seq(m, encoded):
        return torch.stack([t.sum() for t, _, _ in hand_outputs(m, encoded)])

    win = seq(model, chosen_enc) - seq(ref, chosen_enc)
    lose = seq(model, forget_enc) - seq(ref, forget_enc)
    forget = -(2 / 0.5) * F.logsigmoid(0.5 * (win - lose)).mean()
    check(losses, forget + 0.3 * nll(hand_outputs(model, retain_enc)), "forget/dpo", "forget/idk_nll")


@pytest.mark.parametrize("name", sorted(METHODS))
def test_every_method_backpropagates(engine_world, name):
    losses, model, *_ = engine_losses(engine_world, name, METHODS[name].config_cls())
    losses.total.backward()
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    assert grads and any(float(g.abs().sum()) > 0 for g in grads)
