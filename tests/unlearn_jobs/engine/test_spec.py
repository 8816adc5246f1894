"""A bad spec fails at once with a ValueError that names the problem."""

from __future__ import annotations

import pytest

from unlearn_jobs.engine import METHODS, StopRules, TextItem, UnlearnSpec
from unlearn_jobs.engine.methods import NPOConfig


def make(world, tmp_path, **overrides):
    settings = dict(
        model_dir=world.model_dir,
        forget_items=world.forget_items,
        retain_items=world.retain_items,
        output_dir=tmp_path / "out",
        max_steps=3,
    )
    settings.update(overrides)
    return UnlearnSpec(**settings)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"method": "forgetti"}, "unknown method 'forgetti'"),
        ({"forget_items": []}, "forget_items is empty"),
        ({"learning_rate": -1e-4}, "learning_rate must be positive"),
        ({"model_dir": "/nonexistent/model"}, "model_dir /nonexistent/model is missing"),
        ({"mode": "qlora"}, "mode must be one of"),
        ({"max_steps": None}, "exactly one of max_steps and epochs"),
        ({"epochs": 1.0}, "exactly one of max_steps and epochs"),
        ({"retain_items": []}, "method npo needs retain_items"),
        ({"method_config": {"beta": 0}}, "beta must be positive"),
        ({"method_config": {"bogus": 1}}, "bogus"),
        ({"forget_batch_size": 0}, "forget_batch_size must be at least 1"),
        ({"device": "tpu"}, "device must be"),
        ({"method": "refusal", "stop": StopRules(forget_nll_target=3.0)}, "does not log forget/nll"),
        (
            {"method": "ga", "retain_items": [], "stop": StopRules(max_retain_nll=4.0)},
            "guard needs retain_items",
        ),
    ],
)
def test_bad_spec_names_the_problem(engine_world, tmp_path, overrides, message):
    with pytest.raises(ValueError, match=message):
        make(engine_world, tmp_path, **overrides)


def test_items_must_have_text():
    with pytest.raises(ValueError, match="non-empty text"):
        TextItem(text="  ", prompt="Where does Jane live?")


def test_good_spec_fills_the_method_config(engine_world, tmp_path):
    spec = make(engine_world, tmp_path, method="npo", method_config={"beta": 0.2})
    assert spec.method_config == NPOConfig(beta=0.2)
    assert (
        make(engine_world, tmp_path, method="ga", retain_items=[]).method_config == METHODS["ga"].config_cls()
    )
    assert spec.describe()["method_config"]["beta"] == 0.2


def _imports(paths) -> set[str]:
    import ast

    imported = set()
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                imported |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                imported.add(node.module)
    return imported


def test_the_engine_imports_only_ml_libraries_never_django():
    import sys
    from pathlib import Path

    import palimpsest.hashing
    import unlearn_jobs.engine

    allowed = {
        "torch",
        "transformers",
        "peft",
        "accelerate",
        "safetensors",
        "tokenizers",
        "numpy",
        "unlearn_jobs",
    }
    # Project helpers the engine may share, provided they import nothing but the standard library.
    shared_helpers = {"palimpsest.hashing"}
    root = Path(unlearn_jobs.engine.__file__).parent
    imported = _imports(root.rglob("*.py"))
    third_party = {
        name.split(".")[0]
        for name in imported
        if name.split(".")[0] not in sys.stdlib_module_names and name not in shared_helpers
    }
    assert third_party <= allowed, third_party - allowed
    helper_imports = _imports([Path(palimpsest.hashing.__file__)])
    assert {name.split(".")[0] for name in helper_imports} <= sys.stdlib_module_names
