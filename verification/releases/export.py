"""Export a model version as a Hugging Face directory with a model card: its verification figures,
the policy that judged it and how many erasure requests it honours; never a name or a text."""

from __future__ import annotations

import shutil
from pathlib import Path

from django.template.loader import render_to_string

from palimpsest.errors import ApplicationError
from palimpsest.hashing import sha256_file
from requests_app.review.models import ApprovedItem
from unlearn_jobs.registry.models import ModelVersion, VersionStatus
from verification.releases.selectors import latest_report

# The engine's own manifest holds item ids and hashes: internal, not part of the published model.
INTERNAL_FILES = {"manifest.json"}


def model_version_export(*, number: int, target: Path) -> Path:
    version = ModelVersion.objects.filter(number=number).first()
    if version is None:
        raise ApplicationError(f"There is no model version {number}.")
    if version.status in (VersionStatus.PURGED, VersionStatus.VERIFICATION_FAILED, VersionStatus.CANDIDATE):
        raise ApplicationError(f"v{number} is {version.get_status_display().lower()}: it is not exported.")
    source, target = Path(version.artifact_path), Path(target)
    if target.exists() and any(target.iterdir()):
        raise ApplicationError(f"{target} is not empty.")
    files = version.manifest.get("files", {})
    for rel, digest in sorted(files.items()):
        if rel in INTERNAL_FILES:
            continue
        path = source / rel
        if not path.is_file() or sha256_file(path) != digest:
            raise ApplicationError(f"v{number}'s file {rel} is missing or changed since registration.")
        (target / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target / rel)
    report = latest_report(version)
    request_ids = list(version.included_requests.values_list("pk", flat=True))
    card = render_to_string(
        "verification/releases/model_card.md",
        {
            "version": version,
            "report": report,
            "figures": sorted((report.figures if report else {}).items()),
            "requests": len(request_ids),
            "items": ApprovedItem.objects.filter(request_id__in=request_ids).count(),
        },
    )
    (target / "README.md").write_text(card, encoding="utf-8")
    return target
