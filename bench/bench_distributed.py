"""``transferkit train`` on one process and on two (``--nproc 2``: torch.distributed, gloo, one CPU thread each),
same folder, same settings and global batch, in one run.

EfficientNet-Lite0 at 224 px on texture patches of scikit-image photos (200 train / 100 validation), 3
fine-tuning epochs, no time budget. Read from the runs' ``--json-progress`` events: images/s of the feature
cache (every image once through the frozen bottom) and of the fine-tuning epochs (training images over the
epoch's seconds, its validation pass included), and the whole run's wall time. One process uses both cores
through torch's threads; two use one each, so on this machine the ideal is the same speed, not twice it: the
scaling efficiency is the speed-up over the number of processes. The last line reads
``phase-two img/s: 1 process X, 2 processes Y, speed-up S, scaling efficiency E``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

EPOCHS = 3


def _train(data: Path, val: Path, out: Path, processes: int) -> dict[str, float]:
    batch = 32 // processes  # the same global batch
    command = [sys.executable, "-m", "transferkit", "train", str(data), "--val-dir", str(val), "--out", str(out),
               "--time-budget", "none", "--fine-tune-epochs", str(EPOCHS), "--batch-size", str(batch),
               "--lr-scaling", "none", "--nproc", str(processes), "--json-progress"]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(done.stderr[-3000:])
    events = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    plan = next(e for e in events if e["event"] == "plan")["info"]
    cache = next(e for e in events if e["event"] == "end" and e["step"] == "cache")
    epochs = [e["seconds"] for e in events if e["event"] == "epoch" and e["step"] == "fine_tune"]
    metrics = json.loads((out / "metrics.json").read_text())
    return {
        "cache": cache["total"] / cache["seconds"],
        "train": plan["images"] * len(epochs) / sum(epochs),
        "epochs": len(epochs),
        "wall": wall,
        "accuracy": metrics["val_accuracy"],
    }


def main() -> None:
    from transferkit.data.samples import texture_folders

    with tempfile.TemporaryDirectory() as tmp:
        train_dir, val_dir = texture_folders(tmp, train_per_class=50, val_per_class=25, size=256)
        one = _train(train_dir, val_dir, Path(tmp) / "one", 1)
        two = _train(train_dir, val_dir, Path(tmp) / "two", 2)
    for name, run in (("1 process", one), ("2 processes", two)):
        print(f"{name}: cache {run['cache']:.1f} img/s, phase two {run['train']:.1f} img/s over {run['epochs']:.0f} "
              f"epoch(s), whole run {run['wall']:.1f} s, validation accuracy {run['accuracy']:.3f}")  # fmt: skip
    speedup = two["train"] / one["train"]
    print(f"cache img/s: 1 process {one['cache']:.1f}, 2 processes {two['cache']:.1f}, "
          f"ratio {two['cache'] / one['cache']:.2f}")  # fmt: skip
    print(f"phase-two img/s: 1 process {one['train']:.1f}, 2 processes {two['train']:.1f}, speed-up {speedup:.2f}, "
          f"scaling efficiency {speedup / 2:.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
