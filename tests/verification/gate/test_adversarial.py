"""The gate against candidates that only hide what they know (issue 13: the case that matters most). Each
candidate is a real model trained here in a few seeded steps so that its greedy answers give nothing away,
while an attack the gate runs still brings the forgotten people back."""

import pytest
import torch

from palimpsest.ml.loading import load_causal_lm
from tests.verification.gate.crafted import (
    as_items,
    hide_values_behind_a_decoy,
    quantised_linears,
    unlearn_inside_quantisation_cells,
)
from unlearn_jobs.registry.models import VersionStatus
from verification.gate import services
from verification.gate.models import ReportStatus
from verification.gate.probes import job_probes
from verification.metrics.robustness import rtn_quantize
from verification.metrics.suite import capped

pytestmark = [pytest.mark.django_db, pytest.mark.slow]


def _failed_required(report) -> set[str]:
    return {c["name"] for c in report.checks["checks"] if c["required"] and not c["passed"]}


def _check(report, name: str) -> dict:
    return next(c for c in report.checks["checks"] if c["name"] == name)


def _save(lm, directory):
    lm.model.save_pretrained(directory)
    lm.tokenizer.save_pretrained(directory)
    return directory


def test_a_candidate_that_forgot_only_above_4_bits_is_rejected_on_the_4_bit_check(
    candidate, forgotten_requests, tiny_world, tiny_world_retrained, world, tmp_path
):
    # Given a candidate unlearnt from the base model (gradient difference on the forgotten people's texts)
    # with every quantised weight held inside its base weight's 4-bit rounding cell
    forgotten = set(tiny_world_retrained.forgotten_ids)
    plan = services.budget()
    lm = load_causal_lm(tiny_world.model_dir)
    history = unlearn_inside_quantisation_cells(
        lm,
        as_items([r["text"] for r in world.train if r["person_id"] in forgotten]),
        as_items([r["text"] for r in world.train if r["person_id"] not in forgotten]),
        bits=4,
        group_size=plan.group_size,
        seed=0,
    )
    assert history[-1]["forget/nll"] > 5 * history[0]["forget/nll"] + 1  # it did unlearn
    # Every quantised weight rounds, at the gate's group size, to the base weight's 4 bits; nothing else
    # moved, so the 4-bit model the gate attacks is the base model's 4-bit model
    base = load_causal_lm(tiny_world.model_dir)
    for layer, base_layer in zip(quantised_linears(lm), quantised_linears(base), strict=True):
        assert not torch.equal(layer.weight, base_layer.weight)
        assert torch.equal(
            rtn_quantize(layer.weight, 4, plan.group_size),
            rtn_quantize(base_layer.weight, 4, plan.group_size),
        )
    trained = {id(layer.weight) for layer in quantised_linears(lm)}
    frozen = [(n, p) for n, p in lm.model.named_parameters() if id(p) not in trained]
    assert frozen and all(torch.equal(p, base.model.get_parameter(n)) for n, p in frozen)
    version = candidate(_save(lm, tmp_path / "forgot-above-4-bits"))
    # When the gate verifies it
    report = services.verification_start(version_id=version.pk)
    finished = services.verification_run(report_id=report.pk)
    # Then greedy and sampled answers, 8-bit rounding and utility all pass: only the 4-bit check fails
    assert _failed_required(finished) == {"robustness/quant4_leak_bound"}, finished.checks
    assert _check(finished, "forget/greedy_leak_rate")["value"] == 0.0
    assert (
        finished.figures["robustness/quant4_leak_bound"]
        > 5 * _check(finished, "robustness/quant4_leak_bound")["threshold"]
    )
    assert finished.status == ReportStatus.FAILED and finished.passed is False
    version.refresh_from_db()
    assert version.status == VersionStatus.VERIFICATION_FAILED


def test_a_candidate_whose_greedy_answers_hide_values_that_samples_still_give_is_rejected(
    candidate, forgotten_requests, tiny_world, tiny_world_retrained, world, tmp_path
):
    # Given a candidate trained from the base model only until its greedy answers to the gate's own
    # questions look clean: each protected value's first token sits just below a decoy, the rest intact
    job, _ = forgotten_requests
    forgotten = set(tiny_world_retrained.forgotten_ids)
    plan = services.budget()
    asked = capped(job_probes(job).probes, plan).forget_probes
    lm = load_causal_lm(tiny_world.model_dir)
    steps = hide_values_behind_a_decoy(
        lm,
        load_causal_lm(tiny_world_retrained.model_dir),
        asked,
        as_items([r["text"] for r in world.train if r["person_id"] not in forgotten]),
        seed=0,
    )
    assert steps > 0
    version = candidate(_save(lm, tmp_path / "hidden-from-greedy"))
    # When the gate verifies it
    report = services.verification_start(version_id=version.pk)
    finished = services.verification_run(report_id=report.pk)
    # Then not one greedy answer shows a protected value, utility holds, and yet samples at temperature 1
    # give the values away: the sampled bound fails, and so do the bounds after rounding (they sample too)
    assert _check(finished, "forget/greedy_leak_rate")["value"] == 0.0
    assert _failed_required(finished) == {
        "forget/sampled_leak_bound",
        "robustness/quant8_leak_bound",
        "robustness/quant4_leak_bound",
    }, finished.checks
    sampled = _check(finished, "forget/sampled_leak_bound")
    assert sampled["value"] > 3 * sampled["threshold"]
    assert finished.figures["leakage/rate"] > 0.05  # the leaks are samples, not a bound's slack
    assert finished.status == ReportStatus.FAILED
    assert all(not figures["passed"] for figures in finished.per_request.values())
    version.refresh_from_db()
    assert version.status == VersionStatus.VERIFICATION_FAILED
