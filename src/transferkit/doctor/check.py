"""Finding what is wrong with a labelled folder: :func:`diagnose` and the :class:`Finding` records it returns.

Not here: the embeddings (:mod:`.embed`), the review page (:mod:`.page`) and performing fixes (:mod:`.fixes`).
Every threshold below is a module constant, measured on ``bench/bench_doctor.py`` (README, "Check a folder
before training").
"""

from __future__ import annotations

import os
import time
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from ..data.decode import pool
from ..data.groups import NEAR_DUPLICATE_BITS, Groups, close_hashes, file_hash, hash_bits
from ..data.scan import Scan, scan_folder
from ..errors import DoctorError, SkippedFileWarning
from . import embed as embedding

#: Images whose perceptual hashes are close (:data:`~transferkit.data.groups.NEAR_DUPLICATE_BITS`) are
#: near-duplicates when their embeddings are at least this alike too (so that two different pictures whose
#: coarse light and dark happen to match are not taken for copies). Measured with ``bench/bench_doctor.py``:
#: planted copies 0.70-0.97 alike; of the different pictures within 8 bits (12 pairs), none above 0.68.
#: Embeddings alone do worse: copies of small images reach only 0.70-0.97, unrelated crops of a plain region 0.99.
SAME_PICTURE_SIMILARITY = 0.7
#: Embeddings at least this alike count as copies of each other when looking for an image's neighbours.
COPY_SIMILARITY = 0.98
TINY_SIDE = 32  # pixels: the shorter side below which an image holds little for a 224 px model
EXTREME_ASPECT = 4.0  # longer side over shorter side: most of it is lost to a square crop or squashed
IMBALANCE_RATIO = 1 / 3  # a class with fewer than this fraction of the largest class's images
FEW_IMAGES = 10  # a class with fewer cannot be learned or checked well
OUTLIER_NEIGHBOURS = 10
#: Robust z-score (median and MAD), from below, of an image's mean similarity to the nearest images of the
#: class it is closest to, from which it is an outlier. Measured with ``bench/bench_doctor.py`` (10 foreign
#: photos, crops of 4 photos, among 2,049 crops): foreign 2.7-4.3, the most isolated crops up to 2.7; on 1,050
#: crops, foreign 1.6-3.7 and crops up to 2.3. A per-class neighbourhood separated them better than the nearest
#: images of any class or the class centroids.
OUTLIER_Z = 2.75
KINDS = ("duplicate", "near_duplicate", "leak", "label_error", "outlier", "imbalance", "tiny", "extreme_aspect",
         "skipped")  # fmt: skip


@dataclass
class Finding:
    """One problem: its ``kind`` (:data:`KINDS`), the ``files`` (or class folder) concerned, the class of each
    file (``labels``), a ``suggested_class`` where there is one, a ``score`` (higher: surer or worse) and a
    ``reason`` a person can read."""

    kind: str
    files: list[str]
    suggested_class: str | None
    score: float
    reason: str
    labels: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Diagnosis:
    """Every finding, by kind in the order of :data:`KINDS` (label errors and outliers surest first), and a
    ``summary`` (counts, thresholds, timings, a verdict per class)."""

    findings: list[Finding]
    summary: dict[str, Any]
    class_names: list[str]

    def as_json(self) -> dict[str, Any]:
        return {"findings": [f.as_json() for f in self.findings], "summary": self.summary}

    def of_kind(self, kind: str) -> list[Finding]:
        return [f for f in self.findings if f.kind == kind]


@dataclass
class _Images:
    paths: list[str]
    labels: np.ndarray  # index into class_names
    val: np.ndarray  # bool: from the validation folder
    class_names: list[str]
    skipped: list[tuple[str, str]]


def diagnose(
    data_dir: str | os.PathLike[str],
    val_dir: str | os.PathLike[str] | None = None,
    *,
    image_size: int = 224,
    cache: str | os.PathLike[str] | None = None,
    on_batch: Callable[[int], None] | None = None,
) -> Diagnosis:
    """Check a class-per-folder tree (and its validation folder); ``cache`` keeps embeddings between runs.

    Raises :class:`DatasetError` for a missing folder and :class:`DoctorError` for one without images."""
    started = time.perf_counter()
    images = _scan(data_dir, val_dir)
    names = images.class_names
    timings: dict[str, float] = {}
    tick = time.perf_counter()
    sizes = list(pool().map(_size, images.paths))
    hashes = list(pool().map(file_hash, images.paths))
    bits, hashed = hash_bits(images.paths)
    timings["scan_and_hashes"], tick = time.perf_counter() - tick, time.perf_counter()
    vectors = embedding.embed(images.paths, hashes, image_size=image_size, cache=cache, on_batch=on_batch)
    timings["embeddings"], tick = time.perf_counter() - tick, time.perf_counter()
    findings = _duplicates(images, hashes, close_hashes(bits, ok=hashed), vectors)
    timings["duplicates"], tick = time.perf_counter() - tick, time.perf_counter()
    findings += _label_errors(images, vectors)
    timings["label_errors"], tick = time.perf_counter() - tick, time.perf_counter()
    findings += _outliers(images, vectors)
    findings += _shapes(images, sizes)
    findings += _imbalance(images, data_dir)
    findings += [Finding("skipped", [p], None, 1.0, reason) for p, reason in images.skipped]
    findings.sort(key=lambda f: KINDS.index(f.kind))  # stable: each kind keeps its ranking
    summary = _summary(images, findings, time.perf_counter() - started)
    summary["timings"] = {k: round(v, 2) for k, v in timings.items()}
    return Diagnosis(findings, summary, names)


def _scan(data_dir: Any, val_dir: Any) -> _Images:
    with warnings.catch_warnings():  # the findings list every skip; no warning per file as well
        warnings.simplefilter("ignore", SkippedFileWarning)
        scans: list[Scan] = [scan_folder(data_dir)] + ([scan_folder(val_dir)] if val_dir is not None else [])
    names = sorted({n for s in scans for n in s.class_names})
    paths, labels, val = [], [], []
    for index, scan in enumerate(scans):
        paths += scan.files
        labels += [names.index(scan.class_names[label]) for label in scan.labels]
        val += [index == 1] * len(scan.files)
    if not paths:
        raise DoctorError(
            f"No images found in '{os.fspath(data_dir)}'; pass a folder with one subfolder of images per class."
        )
    # the folder --apply moves deleted files to is not news
    skipped = [entry for s in scans for entry in s.skips.entries if os.path.basename(entry[0]) != "_removed"]
    return _Images(paths, np.asarray(labels, np.int64), np.asarray(val, bool), names, skipped)


def _size(path: str) -> tuple[int, int]:
    from PIL import Image

    with Image.open(path) as img:
        return img.size


def _duplicates(
    images: _Images, hashes: list[str], close: list[tuple[int, int, int]], vectors: np.ndarray
) -> list[Finding]:
    groups = Groups(len(hashes))
    first: dict[str, int] = {}
    for i, h in enumerate(hashes):
        groups.join(i, first.setdefault(h, i))
    pairs = [(i, j, 1 - apart / 63) for i, j, apart in close if vectors[i] @ vectors[j] >= SAME_PICTURE_SIMILARITY]
    for i, j, _ in pairs:
        groups.join(i, j)
    lowest: dict[int, float] = {}
    for i, _, sim in pairs:
        root = groups.find(i)
        lowest[root] = min(lowest.get(root, 1.0), sim)
    names, findings = images.class_names, []
    for members in groups.groups():
        members.sort(key=lambda i: (images.val[i], images.paths[i]))
        classes = sorted({names[images.labels[i]] for i in members})
        exact = len({hashes[i] for i in members}) == 1
        kind = "leak" if len(set(images.val[members])) > 1 else "duplicate" if exact else "near_duplicate"
        what = "identical files" if exact else "near-identical images"
        reason = f"{len(members)} {what}" + (
            "" if exact else f" (hashes {lowest.get(groups.find(members[0]), 0.0):.0%} alike)"
        )
        if kind == "leak":
            reason += " in both the training and the validation folder (validation accuracy is overstated)"
        if len(classes) > 1:
            reason += f", labelled {' and '.join(classes)} (conflicting labels)"
        score = 1.0 if exact else lowest.get(groups.find(members[0]), 0.0)
        labels = [names[images.labels[i]] for i in members]
        findings.append(Finding(kind, [images.paths[i] for i in members], None, round(score, 4), reason, labels))
    return findings


def _label_errors(images: _Images, vectors: np.ndarray) -> list[Finding]:
    """Out-of-fold probabilities of the logistic-regression probe, ranked by cleanlab's confident learning."""
    try:
        from cleanlab.filter import find_label_issues
    except ImportError:
        raise DoctorError("Finding label errors needs cleanlab; run `pip install 'transferkit[doctor]'`.") from None
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    from threadpoolctl import threadpool_limits

    from ..train.linear import fit_logistic

    present, y = np.unique(images.labels, return_inverse=True)
    counts = np.bincount(y)
    folds = min(5, int(counts.min()))
    if len(present) < 2 or folds < 2:
        return []  # a single class, or one with a single image: nothing to hold out
    z = vectors / (float(np.sqrt(np.mean(vectors**2))) or 1.0)
    head = fit_logistic(vectors, y, len(present))  # the penalty, chosen by cross-validation as training does
    probe = LogisticRegression(C=head.C, max_iter=1000, tol=1e-5)
    with threadpool_limits(1):
        kfold = StratifiedKFold(folds, shuffle=True, random_state=0)
        probs = cross_val_predict(probe, z, y, cv=kfold, method="predict_proba")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # cleanlab's own notes on small classes
        ranked = find_label_issues(y, probs, return_indices_ranked_by="self_confidence")
    names, findings = images.class_names, []
    for i in ranked:
        others = probs[i].copy()
        others[y[i]] = -1.0
        suggested = names[present[int(others.argmax())]]
        given = names[images.labels[i]]
        reason = f"labelled {given}, looks like {suggested} ({probs[i].max():.0%} sure, {probs[i, y[i]]:.0%} {given})"
        findings.append(Finding("label_error", [images.paths[i]], suggested, round(1 - float(probs[i, y[i]]), 4),
                                reason, [given]))  # fmt: skip
    return findings


def class_similarity(
    vectors: np.ndarray, labels: np.ndarray, k: int = OUTLIER_NEIGHBOURS, block: int = 1024
) -> np.ndarray:
    """Each image's mean similarity to its ``k`` nearest images of the class it is closest to, near copies of
    it left out: low for an image far from every class, even when a few like it were planted together."""
    out = np.full(len(vectors), -1.0, np.float32)
    classes = [np.flatnonzero(labels == c) for c in np.unique(labels)]
    for start in range(0, len(vectors), block):
        sims = vectors[start : start + block] @ vectors.T
        sims[sims >= COPY_SIMILARITY] = -1.0  # itself and its closest copies
        for members in classes:
            take = min(k, len(members))
            nearest = -np.partition(-sims[:, members], take - 1, axis=1)[:, :take]
            out[start : start + len(sims)] = np.maximum(out[start : start + len(sims)], nearest.mean(axis=1))
    return out


def _outliers(images: _Images, vectors: np.ndarray) -> list[Finding]:
    if len(vectors) < 3 * OUTLIER_NEIGHBOURS:
        return []
    sims = class_similarity(vectors, images.labels)
    median = float(np.median(sims))
    spread = 1.4826 * float(np.median(np.abs(sims - median))) or 1e-6
    z = (median - sims) / spread
    findings = []
    for i in np.argsort(-z):
        if z[i] < OUTLIER_Z:
            break
        label = images.class_names[images.labels[i]]
        reason = f"unlike every class (mean similarity to the nearest of any class {sims[i]:.2f}, typical {median:.2f})"
        findings.append(Finding("outlier", [images.paths[i]], None, round(float(z[i]), 2), reason, [label]))
    return findings


def _shapes(images: _Images, sizes: list[tuple[int, int]]) -> list[Finding]:
    findings = []
    for path, label, (w, h) in zip(images.paths, images.labels, sizes):
        name = images.class_names[label]
        if min(w, h) < TINY_SIDE:
            findings.append(Finding("tiny", [path], None, float(min(w, h)), f"{w}x{h} px", [name]))
        ratio = max(w, h) / max(1, min(w, h))
        if ratio >= EXTREME_ASPECT:
            reason = f"{w}x{h} px (aspect {ratio:.1f}:1)"
            findings.append(Finding("extreme_aspect", [path], None, round(ratio, 2), reason, [name]))
    return findings


def _imbalance(images: _Images, data_dir: Any) -> list[Finding]:
    counts = np.bincount(images.labels[~images.val], minlength=len(images.class_names))
    largest = int(counts.max()) if len(counts) else 0
    findings = []
    for name, count in zip(images.class_names, counts):
        if largest and count < largest * IMBALANCE_RATIO:
            reason = f"{count} training images against {largest} in the largest class"
            folder = os.path.join(os.fspath(data_dir), name)
            findings.append(Finding("imbalance", [folder], None, round(count / largest, 3), reason, [name]))
    return findings


def _summary(images: _Images, findings: list[Finding], seconds: float) -> dict[str, Any]:
    by_kind = {kind: sum(f.kind == kind for f in findings) for kind in KINDS}
    per_class: dict[str, dict[str, int]] = {n: {} for n in images.class_names}
    for f in findings:
        if f.kind in ("imbalance", "skipped"):
            continue
        for label in set(f.labels):
            per_class[label][f.kind] = per_class[label].get(f.kind, 0) + 1
    counts = np.bincount(images.labels[~images.val], minlength=len(images.class_names))
    val_counts = np.bincount(images.labels[images.val], minlength=len(images.class_names))
    verdicts = {}
    for name, count, problems in zip(images.class_names, counts, per_class.values()):
        notes = [f"{n} {kind.replace('_', ' ')}" for kind, n in problems.items()]
        if count < FEW_IMAGES:
            notes.insert(0, f"only {count} training images")
        if any(f.kind == "imbalance" and f.labels == [name] for f in findings):
            notes.insert(0, "under-represented")
        verdicts[name] = "ok" if not notes else "review: " + ", ".join(notes)
    return {
        "images": int((~images.val).sum()),
        "val_images": int(images.val.sum()),
        "classes": {n: {"train": int(c), "val": int(v)} for n, c, v in zip(images.class_names, counts, val_counts)},
        "by_kind": by_kind,
        "verdicts": verdicts,
        "thresholds": {
            "near_duplicate_bits": NEAR_DUPLICATE_BITS,
            "tiny_side": TINY_SIDE,
            "extreme_aspect": EXTREME_ASPECT,
            "outlier_z": OUTLIER_Z,
        },  # fmt: skip
        "seconds": round(seconds, 2),
    }
