"""`manage.py build_demo_world` parses its arguments and reuses an existing build of the same inputs."""

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from tests.fixtures.demo import TINY_PEOPLE, TINY_SEED


def test_command_reuses_the_built_world(tiny_world):
    stamp = tiny_world.manifest_path.stat().st_mtime_ns
    out = StringIO()
    call_command(
        "build_demo_world",
        f"--people={TINY_PEOPLE}",
        f"--seed={TINY_SEED}",
        "--size=tiny",
        f"--root={tiny_world.root}",
        stdout=out,
    )
    assert f"model: {tiny_world.model_dir}" in out.getvalue()
    metrics_line = next(line for line in out.getvalue().splitlines() if line.startswith("metrics: "))
    assert json.loads(metrics_line.removeprefix("metrics: "))["qa_em_trained"] >= 0.97
    assert tiny_world.manifest_path.stat().st_mtime_ns == stamp


def test_command_refuses_an_unknown_size():
    with pytest.raises(CommandError):
        call_command("build_demo_world", "--size=huge")
