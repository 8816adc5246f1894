"""`manage.py run_demo_scenario [--requests N] [--json]`: play the whole journey on the demo world and
say how it went (the steps are in palimpsest/demo/management/scenario.py)."""

from __future__ import annotations

import json
import time
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from palimpsest.demo.management.harness import OwnWorker, ScenarioError, workers_answering
from palimpsest.demo.management.scenario import preflight, run_scenario
from palimpsest.demo.management.summary import summary


class Command(BaseCommand):
    help = "Play the whole erasure journey through the product's interfaces on the demo world."

    def add_arguments(self, parser):
        parser.add_argument(
            "--requests", type=int, default=5, help="genuine requests (one poisoned is added)"
        )
        parser.add_argument("--json", action="store_true", help="print the summary as JSON")
        parser.add_argument("--timeout", type=float, default=3600.0, help="seconds any one wait may take")

    def handle(self, *args, **options):
        if options["requests"] < 1:
            raise CommandError("--requests must be at least 1.")
        started = time.monotonic()
        say = self._progress(started, quiet=options["json"])
        worker = None
        world_root = Path(settings.PALIMPSEST_DEMO_ROOT)
        try:
            preflight(world_root=world_root, requests=options["requests"])
            if not workers_answering():
                worker = OwnWorker(Path(settings.VAR_DIR) / "log" / "scenario-worker.log")
                say(f"no Celery worker answers a ping: starting one for this run (log: {worker.log_path})")
                worker.start()
            journey = run_scenario(
                world_root=world_root,
                requests=options["requests"],
                say=say,
                timeout=options["timeout"],
            )
        except ScenarioError as error:
            if options["json"]:
                failed = {"failed": str(error), "seconds": error.seconds}
                self.stdout.write(
                    json.dumps({**failed, "total_seconds": round(time.monotonic() - started, 1)})
                )
            raise CommandError(f"The journey failed: {error}") from None
        finally:
            if worker is not None:
                worker.stop()
                say("the scenario's worker is stopped")
        result = {**summary(journey), "total_seconds": round(time.monotonic() - started, 1)}
        if options["json"]:
            self.stdout.write(json.dumps(result, indent=2))
        else:
            self._print(result)

    def _progress(self, started: float, *, quiet: bool):
        def say(message: str) -> None:
            # With --json, progress goes to stderr so that stdout stays one JSON document.
            (self.stderr if quiet else self.stdout).write(f"[{time.monotonic() - started:7.1f} s] {message}")

        return say

    def _print(self, result: dict) -> None:
        self.stdout.write("")
        for row in result["requests"]:
            kind = "poisoned" if row["poisoned"] else "genuine "
            leaks = [
                f"{name} leak {_share(row[f'{key}_before'])} -> {_share(row[f'{key}_after'])}"
                for name, key in (("greedy", "greedy_leak_rate"), ("sampled", "sampled_leak_rate"))
                if row[f"{key}_after"] is not None
            ]
            self.stdout.write(
                f"  {row['request']}  {kind}  {row['status']:<10}  screening risk {row['screening_risk']}"
                + "".join(f"  {leak}" for leak in leaks)
            )
        self.stdout.write(
            f"  utility {_number(result['utility_before'])} -> {_number(result['utility_after'])} "
            f"(ratio {_number(result['utility_ratio'])}); gate passed: {result['gate_passed']}"
        )
        stages = ", ".join(f"{k} {v:.0f} s" for k, v in result["seconds"].items())
        self.stdout.write(f"  time per stage: {stages}; total {result['total_seconds']:.0f} s")
        self.stdout.write(self.style.SUCCESS(f"  published version: v{result['published_version']}"))


def _share(value: float | None) -> str:
    return "–" if value is None else f"{value:.1%}"


def _number(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"
