"""One process of a job's process group: `python -m unlearn_jobs.engine.rank_main WORK_DIR`, started by
torchrun or `accelerate launch` (launch.py does it for a GPU worker). It reads WORK_DIR/spec.json, runs
`run_unlearning`, and — rank 0 only — reports progress to WORK_DIR/progress.jsonl and writes
WORK_DIR/result.json. Exit 0: done (the result says how it stopped); 2: the spec was refused
(ValueError, WORK_DIR/error-RANK.json says why: retrying cannot help); 1: anything else (retry: the
job resumes from its last checkpoint); 3: the launcher that waited for progress is gone."""

from __future__ import annotations

import json
import os
import sys
import time
import traceback
from pathlib import Path

import torch

from unlearn_jobs.engine.jobfile import read_json, result_to_dict, spec_from_dict, write_json
from unlearn_jobs.engine.runner import run_unlearning

ACK_POLL_S = 0.02


class LauncherGone(RuntimeError):
    """The launcher waiting for progress died: nobody would read the result, so the group stops."""


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


class FileProgress:
    """Rank 0's progress callback: append a line, then (when the launcher asked for acknowledgements)
    wait for WORK_DIR/ack-SEQ, which says `continue` or `cancel`. The wait makes a cancel take effect at
    the step it answers, as the in-process callback's `False` does."""

    def __init__(self, work_dir: Path, wait_for_ack: bool, launcher_pid: int | None):
        self.work_dir, self.wait_for_ack, self.launcher_pid = work_dir, wait_for_ack, launcher_pid
        self.seq = 0

    def __call__(self, step: int, total: int, figures: dict[str, float]) -> bool:
        self.seq += 1
        line = json.dumps({"seq": self.seq, "step": step, "total": total, "figures": figures})
        with open(self.work_dir / "progress.jsonl", "a", encoding="utf-8") as handle:
            handle.write(line + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        if not self.wait_for_ack:
            return True
        ack = self.work_dir / f"ack-{self.seq}"
        while not ack.exists():
            if self.launcher_pid is not None and not alive(self.launcher_pid):
                raise LauncherGone(f"launcher {self.launcher_pid} is gone")
            time.sleep(ACK_POLL_S)
        return ack.read_text(encoding="utf-8").strip() != "cancel"


def main(argv: list[str]) -> int:
    work_dir = Path(argv[1])
    rank = int(os.environ.get("RANK", "0"))
    (work_dir / f"rank-{rank}.pid").write_text(str(os.getpid()))
    try:
        launch = read_json(work_dir / "launch.json")
        torch.set_num_threads(int(launch["threads"]))
        spec = spec_from_dict(read_json(work_dir / "spec.json"))
        if rank == 0:
            spec.progress = FileProgress(work_dir, launch["wait_for_ack"], launch.get("launcher_pid"))
        result = run_unlearning(spec)
        if rank == 0:
            write_json(work_dir / "result.json", result_to_dict(result))
        return 0
    except LauncherGone:
        return 3
    except ValueError as error:
        write_json(work_dir / f"error-{rank}.json", {"type": "ValueError", "message": str(error)})
        traceback.print_exc()
        return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
