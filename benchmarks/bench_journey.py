"""The whole journey, timed: `manage.py run_demo_scenario --requests N --json` on a fresh platform (its own
database, broker, mail folder and artifacts) over an already built demo world, split by stage, with the
machine's load sampled while it runs. Appends the run to docs/benchmarks/journey-runs.jsonl and rewrites
docs/benchmarks/journey.md from every recorded run.

The figure the issue asks for is the time from the officer's approval to the published version
(batching + job + verification + release). It is set against the bare work inside it: the job's and the
gate's own run times on their worker, as the engine and the gate would take called directly, with no
platform around them (the strongest baseline: nothing can be faster than the work itself).

    .venv/bin/python benchmarks/bench_journey.py --mode embedded --requests 5
    .venv/bin/python benchmarks/bench_journey.py --mode services --requests 20 \
        --database postgres://postgres@127.0.0.1:5432/palimpsest_bench --broker redis://127.0.0.1:6379/3 \
        --cache redis://127.0.0.1:6379/2
    (--world-args "--people 20 --seed 7 --size tiny" --world DIR for a smaller world)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
RUNS = ROOT / "docs" / "benchmarks" / "journey-runs.jsonl"
REPORT = ROOT / "docs" / "benchmarks" / "journey.md"
NOTES = ROOT / "docs" / "benchmarks" / "journey-notes.md"  # written by hand, appended to the page
AFTER_APPROVAL = ("batching", "job", "verification", "release")
STAGES = ("intake", "screening", "review", *AFTER_APPROVAL)


class LoadSampler(threading.Thread):
    """The 1-minute load average every 5 s while the run lasts."""

    def __init__(self):
        super().__init__(daemon=True)
        self.samples: list[float] = []
        self.stopped = threading.Event()

    def run(self):
        while not self.stopped.wait(5.0):
            self.samples.append(os.getloadavg()[0])

    def summary(self) -> dict:
        values = self.samples or [os.getloadavg()[0]]
        return {"mean": round(sum(values) / len(values), 2), "max": round(max(values), 2)}


def _environment(args, var: Path) -> dict[str, str]:
    world = Path(args.world).resolve()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "palimpsest.settings_dev",
        "HF_HUB_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
        "PALIMPSEST_VAR": str(var),
        "PALIMPSEST_DEMO_ROOT": str(world),
        "PALIMPSEST_BASE_MODEL": str(world / "models" / "base"),
        # One torch thread in the command and its worker: the machine is shared, and a second intra-op
        # thread under load only contends (the scenario's own worker defaults to one thread too).
        "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1"),
    }
    for name in ("DATABASE_URL", "REDIS_URL", "CACHE_URL", "CELERY_BROKER_URL"):
        env.pop(name, None)
    if args.mode == "services":
        env.update(DATABASE_URL=args.database, CELERY_BROKER_URL=args.broker, REDIS_URL=args.cache)
    for pair in args.set:
        name, _, value = pair.partition("=")
        env[name] = value
    return env


def _manage(env: dict, *argv: str) -> str:
    done = subprocess.run(
        [sys.executable, "manage.py", *argv], cwd=ROOT, env=env, capture_output=True, text=True
    )
    if done.returncode != 0:
        raise SystemExit(f"manage.py {' '.join(argv)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return done.stdout


def _fresh_services(args) -> None:
    """An empty database and broker for the run: the scenario needs demo people who never filed."""
    db = urlparse(args.database)
    name, host, port = db.path.lstrip("/"), db.hostname or "127.0.0.1", str(db.port or 5432)
    base = ["-h", host, "-p", port, "-U", db.username or "postgres"]
    subprocess.run(["dropdb", *base, "--if-exists", name], check=True)
    subprocess.run(["createdb", *base, name], check=True)
    for url in (args.broker, args.cache):
        redis = urlparse(url)
        number = redis.path.lstrip("/") or "0"
        subprocess.run(
            ["redis-cli", "-h", redis.hostname, "-p", str(redis.port or 6379), "-n", number, "flushdb"],
            check=True,
            capture_output=True,
        )


def _bare_work(env: dict, job_ids: list[int]) -> dict:
    """The jobs' and the gate's run times as their workers recorded them (same database)."""
    script = (
        "import django, json; django.setup();"
        "from unlearn_jobs.jobs.models import UnlearnJob;"
        "from verification.gate.models import VerificationReport;"
        f"ids = {job_ids!r};"
        "jobs = UnlearnJob.objects.filter(pk__in=ids);"
        "reports = VerificationReport.objects.filter(job_id__in=ids);"
        "span = lambda rows: sum((r.finished_at - r.started_at).total_seconds() for r in rows "
        "if r.started_at and r.finished_at);"
        "print(json.dumps({'job': round(span(jobs), 1), 'verification': round(span(reports), 1),"
        " 'attempts': jobs.count(), 'reports': reports.count()}))"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def run(args) -> dict:
    var = Path(tempfile.mkdtemp(prefix="bench-journey-"))
    env = _environment(args, var)
    if args.mode == "services":
        _fresh_services(args)
    _manage(env, "migrate", "--noinput")
    _manage(env, "build_demo_world", *shlex.split(args.world_args))
    _manage(env, "seed_demo_users")
    sampler = LoadSampler()
    sampler.start()
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "manage.py", "run_demo_scenario", "--requests", str(args.requests), "--json"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    wall = time.monotonic() - started
    sampler.stopped.set()
    record = {
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "mode": args.mode,
        "requests": args.requests,
        "world": str(args.world),
        "world_args": args.world_args,
        "settings": args.set,
        "cpus": os.cpu_count(),
        "machine": platform.processor() or platform.machine(),
        "load": sampler.summary(),
        "wall_seconds": round(wall, 1),
        "passed": done.returncode == 0,
    }
    result = json.loads(done.stdout) if done.stdout.strip().startswith("{") else {}
    stages = result.get("seconds", {})
    record["stages"] = {name: stages.get(name, 0.0) for name in STAGES}
    if done.returncode != 0:
        record["error"] = (done.stderr.strip().splitlines() or ["?"])[-1][:500]
        return record
    record.update(
        approval_to_published=round(sum(stages.get(name, 0.0) for name in AFTER_APPROVAL), 1),
        published_version=result["published_version"],
        utility=[result["utility_before"], result["utility_after"]],
        statuses=sorted({r["status"] for r in result["requests"]}),
        bare=_bare_work(env, result["jobs"]),
    )
    bare = record["bare"]["job"] + record["bare"]["verification"]
    record["ratio_to_bare_work"] = round(record["approval_to_published"] / bare, 2) if bare else None
    return record


def _fmt(value, digits: int = 0) -> str:
    return "–" if value is None else f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def write_report(runs: list[dict]) -> None:
    lines = [
        "# The whole journey, timed",
        "",
        "`benchmarks/bench_journey.py`: `manage.py run_demo_scenario --requests N --json` on a fresh platform",
        "(own database, broker, mail folder and artifacts) over a built demo world; seconds per stage as the",
        "scenario booked them (each wait goes to the stage of the least advanced request), the load average",
        "sampled every 5 s during the run. *Approval → published* is batching + job + verification + release;",
        "*bare work* is the job's and the gate's own run time on the worker (engine and gate, no platform",
        "around them), the strongest baseline; the ratio is approval → published over it.",
        "",
        "| when (UTC) | mode | N | world | load mean/max | "
        + " | ".join(STAGES)
        + " | approval → published | bare work (job + gate) | ratio | total wall | result |",
        "|" + " --- |" * (len(STAGES) + 10),
    ]
    for r in runs:
        stages = r.get("stages", {})
        bare = r.get("bare", {})
        world = r["world_args"] or "default (200 people)"
        lines.append(
            f"| {r['at']} | {r['mode']} | {r['requests']} | {world} | {r['load']['mean']}/{r['load']['max']} | "
            + " | ".join(_fmt(stages.get(name)) for name in STAGES)
            + f" | {_fmt(r.get('approval_to_published'))} | {_fmt(bare.get('job'))} + {_fmt(bare.get('verification'))}"
            + f" | {_fmt(r.get('ratio_to_bare_work'), 2)} | {_fmt(r['wall_seconds'])} | "
            + (f"v{r['published_version']} published" if r["passed"] else f"FAILED: {r.get('error', '')}")
            + " |"
        )
    lines += ["", "## Goals, against the latest run on the default world", ""]
    default = [r for r in runs if not r["world_args"]]
    goals = (
        ("approval → published, 20 requests, PostgreSQL + Redis + worker", ("services", 20), 600),
        ("`run_demo_scenario --requests 5`, embedded mode, whole command", ("embedded", 5), 900),
    )
    for label, wanted, goal in goals:
        rows = [r for r in default if (r["mode"], r["requests"]) == wanted]
        if not rows:
            lines.append(f"- {label}: not measured yet (goal under {goal} s).")
            continue
        last = rows[-1]
        where = f"at load {last['load']['mean']} on {last['cpus']} cores"
        if not last["passed"]:
            stages = last.get("stages")
            after = (
                f"{sum(stages.get(name, 0.0) for name in AFTER_APPROVAL):.0f} s from approval to the gate's verdict"
                if stages
                else "stage times not kept by that run"
            )
            lines.append(
                f"- {label}: NOT met — the run published nothing ({last['wall_seconds']:.0f} s wall, "
                f"{after}, {where}): {last.get('error', '')[:160]}"
            )
            continue
        value = last["approval_to_published"] if wanted[0] == "services" else last["wall_seconds"]
        verdict = "met" if value < goal else "NOT met"
        lines.append(f"- {label}: {value:.0f} s {where} (goal under {goal} s): {verdict}.")
    lines += [
        "",
        "Settings given with `--set` per run: "
        + "; ".join(f"{r['at']}: {', '.join(r['settings']) or 'product defaults'}" for r in runs),
        "",
    ]
    if NOTES.is_file():
        lines += [NOTES.read_text().rstrip(), ""]
    REPORT.write_text("\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--mode", choices=("embedded", "services"), default="embedded")
    parser.add_argument("--requests", type=int, default=5)
    parser.add_argument("--world", default=str(ROOT / "var" / "demo"))
    parser.add_argument("--world-args", default="", help="arguments of build_demo_world for that world")
    parser.add_argument("--database", default="postgres://postgres@127.0.0.1:5432/palimpsest_bench")
    parser.add_argument("--broker", default="redis://127.0.0.1:6379/3")
    parser.add_argument("--cache", default="redis://127.0.0.1:6379/2", help="services mode: the Redis cache")
    parser.add_argument("--set", action="append", default=[], help="NAME=VALUE for the platform's settings")
    parser.add_argument("--report-only", action="store_true", help="rewrite the page from the recorded runs")
    args = parser.parse_args()
    if args.report_only:
        write_report([json.loads(line) for line in RUNS.read_text().splitlines() if line.strip()])
        return
    record = run(args)
    print(json.dumps(record, indent=2))
    RUNS.parent.mkdir(parents=True, exist_ok=True)
    with RUNS.open("a") as out:
        out.write(json.dumps(record) + "\n")
    write_report([json.loads(line) for line in RUNS.read_text().splitlines() if line.strip()])


if __name__ == "__main__":
    main()
