"""Run one job as a process group from a GPU worker: `launch_unlearning` starts torchrun as a child, which
starts one `rank_main` process per device; it relays rank 0's progress to the caller's callback and
returns rank 0's result, or raises when the group fails (a lost rank fails the whole attempt; the next
attempt resumes from the last checkpoint). Contract in docs/engine.md, "Several GPUs and machines"."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import torch

from unlearn_jobs.engine.jobfile import read_json, result_from_dict, spec_to_dict, write_json
from unlearn_jobs.engine.spec import UnlearnResult, UnlearnSpec

REPO_ROOT = Path(__file__).resolve().parents[2]
POLL_S = 0.05
# torchrun's failure summary (which rank, which exit code or signal) ends the log; with the message this
# fits a job attempt's error field (2000 characters), so the operator sees the root cause
LOG_TAIL_CHARS = 1500


class RankFailed(RuntimeError):
    """The process group did not finish: a rank died, was killed, or raised. Transient: retry the job; it
    resumes from its last checkpoint."""

    def __init__(self, message: str, returncode: int | None, log_tail: str = ""):
        super().__init__(
            f"{message}\n--- last lines of the ranks' log ---\n{log_tail}" if log_tail else message
        )
        self.returncode, self.log_tail = returncode, log_tail


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def torchrun_command(
    work_dir: Path, nprocs: int, *, nnodes: int, node_rank: int, master_addr: str, master_port: int
) -> list[str]:
    """torchrun with a static rendezvous and no restarts: the first rank to die ends the attempt, and
    torchrun stops the others."""
    return [
        sys.executable,
        "-m",
        "torch.distributed.run",
        f"--nproc-per-node={nprocs}",
        f"--nnodes={nnodes}",
        f"--node-rank={node_rank}",
        f"--master-addr={master_addr}",
        f"--master-port={master_port}",
        "--max-restarts=0",
        "-m",
        "unlearn_jobs.engine.rank_main",
        str(work_dir),
    ]


def launch_unlearning(
    spec: UnlearnSpec,
    *,
    nprocs: int,
    work_dir: Path,
    threads_per_process: int | None = None,
    timeout_s: float | None = None,
    nnodes: int = 1,
    node_rank: int = 0,
    master_addr: str = "127.0.0.1",
    master_port: int | None = None,
) -> UnlearnResult | None:
    """Run `spec` on `nprocs` processes of this machine (one per GPU; on CPU, gloo) and block until they
    end. `spec.progress`, if set, is called here with rank 0's (step, total, figures) after each log,
    while rank 0 waits; returning False cancels the job as in one process. Returns rank 0's result (None
    on the other machines of a multi-machine job). Raises ValueError when a rank refused the spec,
    RankFailed when the group failed or ran past `timeout_s`. `work_dir` must be empty or absent; the
    spec file (it holds item texts) is deleted when the group ends."""
    work_dir = Path(work_dir)
    if work_dir.exists() and any(work_dir.iterdir()):
        raise ValueError(f"work_dir {work_dir} is not empty")
    work_dir.mkdir(parents=True, exist_ok=True)
    threads = threads_per_process or max(1, (os.cpu_count() or 1) // nprocs)
    reporting = node_rank == 0
    write_json(work_dir / "spec.json", spec_to_dict(spec))
    write_json(
        work_dir / "launch.json",
        {
            "threads": threads,
            "wait_for_ack": reporting and spec.progress is not None,
            "launcher_pid": os.getpid(),
        },
    )
    env = {
        **os.environ,
        "OMP_NUM_THREADS": str(threads),
        "PYTHONPATH": os.pathsep.join(p for p in (str(REPO_ROOT), os.environ.get("PYTHONPATH")) if p),
    }
    if not torch.cuda.is_available():
        env["CUDA_VISIBLE_DEVICES"] = ""
    command = torchrun_command(
        work_dir,
        nprocs,
        nnodes=nnodes,
        node_rank=node_rank,
        master_addr=master_addr,
        master_port=master_port or free_port(),
    )
    log_path = work_dir / "ranks.log"
    with open(log_path, "wb") as log:
        group = subprocess.Popen(
            command, cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            returncode = _relay(group, work_dir, spec.progress if reporting else None, timeout_s)
        finally:
            _stop(group)
            (work_dir / "spec.json").unlink(missing_ok=True)
    if returncode is None:
        raise RankFailed(f"the process group ran past {timeout_s} s and was stopped", None, _tail(log_path))
    for error_file in sorted(work_dir.glob("error-*.json")):
        raise ValueError(read_json(error_file)["message"])
    if returncode != 0:
        raise RankFailed(f"the process group exited with code {returncode}", returncode, _tail(log_path))
    if not reporting:
        return None
    return result_from_dict(read_json(work_dir / "result.json"))


def _relay(group: subprocess.Popen, work_dir: Path, progress, timeout_s: float | None) -> int | None:
    """Pass rank 0's progress lines to the callback and answer each; the return code, None on timeout."""
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    progress_path, offset = work_dir / "progress.jsonl", 0
    while True:
        returncode = group.poll()
        if progress is not None and progress_path.exists():
            with open(progress_path, encoding="utf-8") as handle:
                handle.seek(offset)
                chunk = handle.read()
            complete = chunk[: chunk.rfind("\n") + 1]
            offset += len(complete.encode("utf-8"))
            for line in complete.splitlines():
                report = json.loads(line)
                answer = progress(report["step"], report["total"], report["figures"])
                (work_dir / f"ack-{report['seq']}").write_text("cancel" if answer is False else "continue")
        if returncode is not None:
            return returncode
        if deadline is not None and time.monotonic() > deadline:
            return None
        time.sleep(POLL_S)


def _stop(group: subprocess.Popen) -> None:
    """torchrun and its ranks share a session: stop them all (SIGTERM, then SIGKILL)."""
    if group.poll() is None:
        os.killpg(group.pid, signal.SIGTERM)
        try:
            group.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(group.pid, signal.SIGKILL)
            group.wait()
    else:  # torchrun is done; a rank it failed to reap would still be in the session
        try:
            os.killpg(group.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def clean_work_dir(work_dir: Path) -> None:
    """For the caller once it has what it needs (the log stays readable until then)."""
    shutil.rmtree(work_dir, ignore_errors=True)


def _tail(log_path: Path) -> str:
    try:
        return log_path.read_bytes()[-LOG_TAIL_CHARS:].decode("utf-8", errors="replace")
    except OSError:
        return ""
