"""``transferkit doctor`` on a folder with planted problems: precision and recall per kind, and the wall time.

The folder is :func:`transferkit.data.samples.photo_folders` (seven kinds of picture cropped from photos that
packages ship; 190 training and 95 validation images per class by default: 1,995 images), then planted:

- exact copies: ``--copies`` training files copied into their own class, and a fifth as many into another
  class (conflicting labels);
- leaks: ``--leaks`` training files resized to 70% and re-encoded as JPEG quality 75 into the validation
  folder (same class);
- label errors: ``--wrong`` training files moved into another class;
- foreign images: ``--foreign`` crops of photos no class is made of (a cat, a horse's silhouette, a colour
  wheel, a logo), each into a random class.

Duplicates and leaks are scored per planted pair (recall: both files in one finding of the right kind) and per
finding (precision: it holds a planted pair; a finding of two crops of one photo overlapping by more than half,
a natural near-copy that ``photo_folders`` makes by chance, is counted apart, neither right nor wrong); label
errors by how many of the planted ones are among the top 2x(planted) suggestions, and how many of those
suggest the true class; outliers by recall and precision of the foreign images.
Usage: ``python -m bench doctor`` or ``python -m bench.bench_doctor --train-per-class 60 --val-per-class 30``.
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("KERAS_BACKEND", "torch")

FOREIGN_PHOTOS = ("chelsea", "horse", "colorwheel", "logo")


def plant(root: Path, train_per_class: int, val_per_class: int, copies: int, leaks: int, wrong: int,
          foreign: int, seed: int = 0) -> dict[str, object]:  # fmt: skip
    """Make the folder and plant the problems; returns the ground truth."""
    from PIL import Image, ImageOps
    from skimage import data as skdata

    from transferkit.data.samples import photo_folders

    train, val = photo_folders(root, train_per_class, val_per_class, seed=seed)
    rng = np.random.default_rng(seed + 1)
    classes = sorted(p.name for p in train.iterdir())
    files = sorted(train.glob("*/*"))
    picked = iter(rng.permutation(len(files)))
    truth: dict[str, object] = {"dup": [], "leak": [], "wrong": {}, "foreign": []}
    for n in range(copies + copies // 5):
        src = files[next(picked)]
        label = src.parent.name if n < copies else str(rng.choice([c for c in classes if c != src.parent.name]))
        dst = train / label / f"copy{n}_{src.name}"
        shutil.copyfile(src, dst)
        truth["dup"].append((str(src), str(dst)))  # type: ignore[union-attr]
    for n in range(leaks):
        src = files[next(picked)]
        with Image.open(src) as img:
            small = img.convert("RGB").resize((max(8, img.width * 7 // 10), max(8, img.height * 7 // 10)))
        dst = val / src.parent.name / f"leak{n}_{src.stem}.jpg"
        small.save(dst, quality=75)
        truth["leak"].append((str(src), str(dst)))  # type: ignore[union-attr]
    for _ in range(wrong):
        src = files[next(picked)]
        label = str(rng.choice([c for c in classes if c != src.parent.name]))
        dst = train / label / f"moved_{src.name}"
        shutil.move(src, dst)
        truth["wrong"][str(dst)] = src.parent.name  # type: ignore[index]
    for n in range(foreign):
        photo = np.asarray(getattr(skdata, FOREIGN_PHOTOS[n % len(FOREIGN_PHOTOS)])())
        if photo.dtype == bool:
            photo = photo.astype(np.uint8) * 255
        h, w = photo.shape[:2]
        side = int(rng.integers(min(h, w) // 2, min(h, w) + 1))
        top, left = int(rng.integers(0, h - side + 1)), int(rng.integers(0, w - side + 1))
        img = ImageOps.exif_transpose(Image.fromarray(photo[top : top + side, left : left + side]).convert("RGB"))
        dst = train / str(rng.choice(classes)) / f"foreign{n}.jpg"
        img.resize((160, 160)).save(dst, quality=90)
        truth["foreign"].append(str(dst))  # type: ignore[union-attr]
    return truth


def _boxes(root: Path) -> dict[str, tuple[str, np.ndarray]]:
    with open(root / "sources.csv") as f:
        return {str(root / r["file"]): (r["photo"], np.array([int(r[k]) for k in ("top", "left", "height", "width")]))
                for r in csv.DictReader(f)}  # fmt: skip


def _overlap(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two (top, left, height, width) boxes."""
    top, left = max(a[0], b[0]), max(a[1], b[1])
    bottom, right = min(a[0] + a[2], b[0] + b[2]), min(a[1] + a[3], b[1] + b[3])
    inter = max(0, bottom - top) * max(0, right - left)
    return inter / float(a[2] * a[3] + b[2] * b[3] - inter)


def _natural(files: list[str], boxes: dict[str, tuple[str, np.ndarray]]) -> bool:
    """Whether some two of ``files`` are crops of one photo overlapping by more than half."""
    known = [boxes[f] for f in files if f in boxes]
    return any(p == q and _overlap(a, b) > 0.5 for i, (p, a) in enumerate(known) for q, b in known[i + 1 :])


def score(diagnosis: object, truth: dict[str, object], root: Path) -> dict[str, float]:
    findings = diagnosis.findings  # type: ignore[attr-defined]
    boxes = _boxes(root)
    out: dict[str, float] = {}
    for name, kinds in (("dup", ("duplicate", "near_duplicate", "leak")), ("leak", ("leak",))):
        found = [
            set(f.files) for f in findings if f.kind in kinds[-1:] + kinds[:-1] and (name == "leak" or f.kind != "leak")
        ]
        pairs = truth[name]
        hit = sum(any(a in set(f.files) and b in set(f.files) for f in findings if f.kind in kinds) for a, b in pairs)  # type: ignore[attr-defined]
        if os.environ.get("BENCH_VERBOSE"):
            for f in findings:
                if (
                    f.kind in kinds
                    and (name == "leak" or f.kind != "leak")
                    and not any(a in f.files and b in f.files for a, b in pairs)
                ):  # type: ignore[attr-defined]
                    print("  unplanted", f.kind, f.reason, [Path(p).name for p in f.files])
        right = sum(any(a in g and b in g for a, b in pairs) for g in found)  # type: ignore[attr-defined]
        natural = sum(not any(a in g and b in g for a, b in pairs) and _natural(sorted(g), boxes) for g in found)  # type: ignore[attr-defined]
        out[f"{name}_recall"] = hit / max(1, len(pairs))  # type: ignore[arg-type]
        out[f"{name}_precision"] = right / max(1, len(found) - natural)
        out[f"{name}_natural"] = natural
    wrong: dict[str, str] = truth["wrong"]  # type: ignore[assignment]
    ranked = [f for f in findings if f.kind == "label_error"][: 2 * len(wrong)]
    out["label_top2x"] = sum(f.files[0] in wrong for f in ranked) / max(1, len(wrong))
    out["label_suggested"] = sum(wrong.get(f.files[0]) == f.suggested_class for f in ranked) / max(1, len(wrong))
    out["label_flagged"] = sum(f.kind == "label_error" for f in findings)
    foreign = set(truth["foreign"])  # type: ignore[call-overload]
    outliers = [f.files[0] for f in findings if f.kind == "outlier"]
    if os.environ.get("BENCH_VERBOSE"):
        z = {f.files[0]: f.score for f in findings if f.kind == "outlier"}
        print(
            "  outlier z, foreign:",
            sorted(z.get(p, 0) for p in foreign),
            "others:",
            sorted(v for p, v in z.items() if p not in foreign),
        )
    out["outlier_recall"] = len(foreign & set(outliers)) / max(1, len(foreign))
    out["outlier_precision"] = len(foreign & set(outliers)) / max(1, len(outliers))
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train-per-class", type=int, default=190)
    parser.add_argument("--val-per-class", type=int, default=95)
    parser.add_argument("--copies", type=int, default=20)
    parser.add_argument("--leaks", type=int, default=20)
    parser.add_argument("--wrong", type=int, default=20)
    parser.add_argument("--foreign", type=int, default=10)
    parser.add_argument("--image-size", type=int, default=224)
    args, _ = parser.parse_known_args(argv)  # `python -m bench doctor` leaves its own arguments

    import transferkit  # noqa: F401  (before Keras: it picks the backend)
    from transferkit.doctor import diagnose

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        truth = plant(root, args.train_per_class, args.val_per_class, args.copies, args.leaks, args.wrong, args.foreign)
        images = sum(1 for _ in root.glob("*/*/*"))
        start = time.perf_counter()
        diagnosis = diagnose(root / "train", root / "val", image_size=args.image_size)
        seconds = time.perf_counter() - start
        s = score(diagnosis, truth, root)
    print(f"{images} images, by kind: {diagnosis.summary['by_kind']}")
    for name in ("dup", "leak"):
        print(f"{name:5s} recall {s[f'{name}_recall']:.0%} precision {s[f'{name}_precision']:.0%} "
              f"(+{s[f'{name}_natural']:.0f} natural near-copies of one photo)")  # fmt: skip
    print(f"label errors: {s['label_top2x']:.0%} of planted in the top 2x ({2 * args.wrong}), "
          f"true class suggested for {s['label_suggested']:.0%}; {s['label_flagged']:.0f} flagged in all")  # fmt: skip
    print(f"seconds by step: {diagnosis.summary['timings']}")
    print(f"outliers: recall {s['outlier_recall']:.0%} precision {s['outlier_precision']:.0%}")
    print(f"doctor: duplicates recall {s['dup_recall']:.0%} precision {s['dup_precision']:.0%}, leaks recall "
          f"{s['leak_recall']:.0%} precision {s['leak_precision']:.0%}, label errors {s['label_top2x']:.0%} in top 2x, "
          f"{images} images in {seconds:.0f} s")  # fmt: skip


if __name__ == "__main__":
    main()
