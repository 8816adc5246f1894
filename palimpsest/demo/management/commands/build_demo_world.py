"""`manage.py build_demo_world`: build or reuse the synthetic demo world and its base model."""

from __future__ import annotations

import json
import os
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand

from palimpsest.demo.build import build_demo_world
from palimpsest.demo.sizes import SIZES
from palimpsest.errors import ApplicationError
from requests_app.audit import Actor
from unlearn_jobs.registry.services import model_version_register_base


class Command(BaseCommand):
    help = "Generate the demo world, train its tokenizer and base model (reused when already built)."

    def add_arguments(self, parser):
        parser.add_argument("--people", type=int, default=200, help="number of trained (member) people")
        parser.add_argument("--seed", type=int, default=0, help="seed of the world and the training run")
        parser.add_argument("--size", choices=sorted(SIZES), default="default", help="world and model size")
        parser.add_argument(
            "--epochs",
            type=int,
            default=None,
            help="training epochs (default: the size's); fewer give a model that memorised only in part",
        )
        parser.add_argument(
            "--root", type=Path, default=None, help="output folder (default PALIMPSEST_DEMO_ROOT)"
        )

    def handle(self, *args, **options):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        root = options["root"] or Path(settings.PALIMPSEST_DEMO_ROOT)
        paths = build_demo_world(
            root,
            people=options["people"],
            seed=options["seed"],
            size=options["size"],
            progress=True,
            epochs=options["epochs"],
        )
        manifest = paths.manifest()
        self.stdout.write(f"world: {paths.world_dir}")
        self.stdout.write(f"model: {paths.model_dir}")
        self.stdout.write(f"manifest: {paths.manifest_path}")
        self.stdout.write("metrics: " + json.dumps(manifest["metrics"], sort_keys=True))
        self._register(paths.model_dir)

    def _register(self, model_dir: Path) -> None:
        """The platform's base model (PALIMPSEST_BASE_MODEL) becomes version 1, published; a world built
        elsewhere (--root) is not the platform's model and is left out of the registry."""
        if model_dir.resolve() != Path(settings.PALIMPSEST_BASE_MODEL).resolve():
            self.stdout.write(f"registry: not registered ({model_dir} is not PALIMPSEST_BASE_MODEL)")
            return
        try:
            version, created = model_version_register_base(artifact_path=model_dir, actor=Actor.system())
        except ApplicationError as error:
            self.stderr.write(f"registry: {error.message}")
            return
        state = "registered" if created else "already registered"
        self.stdout.write(f"registry: {state} as v{version.number} ({version.status})")
