"""Two-phase fine-tuning (fastai's ``fine_tune``, as a plain function), planned, timed and within a budget.

With the cache (the default) the frozen part of the model runs once per image and view: the bottom of the
backbone below the layers phase two unfreezes (:mod:`transferkit.train.partial`). Phase one fits the head as
the convex problem it is (:mod:`transferkit.train.linear`) on pooled features computed from that cache;
phase two trains the unfrozen top and the head on the same cache at a tenth of the learning rate, with a
linear warm-up and cosine decay, until validation stops improving or the time budget runs out. The best
weights by validation accuracy (then loss) are kept -- the head's own if fine-tuning never beats it.
Without the cache, both phases are Keras ``fit`` on the images (the textbook recipe). :class:`_Run` holds
the steps, in the order they run: ``_split``, ``_plan``, ``_cache``, ``_fit_head``, then phase two.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import keras
import numpy as np

from .._compat import fused_adam
from ..data import class_weights, label_weights
from ..errors import DatasetError
from ..models import heads
from ..runtime import familiar
from . import distributed, features, linear, plan
from .callbacks import Budget, KeepBest, best_so_far, score
from .partial import split
from .progress import Progress, make

if TYPE_CHECKING:
    from ..models.classifier import ImageClassifier


@dataclass
class FineTuneResult:
    """What happened: the merged per-epoch history (with a ``phase`` column), the time spent, and what the
    plan decided (``notes``: e.g. why phase two was skipped or stopped)."""

    history: dict[str, list[float]] = field(default_factory=dict)
    head_seconds: float = 0.0
    fine_tune_seconds: float = 0.0
    cache_seconds: float = 0.0
    epochs: int = 0
    head_C: float | None = None
    cut: str = ""
    val_probabilities: np.ndarray | None = None  # of the validation images, in order, when the cache gave them
    # the pooled features of the training images familiar.sample keeps and of the validation images, in order,
    # when the cache gave them (the out-of-distribution score's, without a second pass over the images)
    familiar_features: tuple[np.ndarray, np.ndarray] | None = None
    notes: list[str] = field(default_factory=list)

    def add(self, history: dict[str, list[float]], phase: int) -> None:
        n = len(next(iter(history.values()), []))
        if n == 0:  # a resumed phase that had nothing left to do
            return
        for key in sorted(set(self.history) | set(history)):
            self.history.setdefault(key, [float("nan")] * self.epochs)
            self.history[key].extend(float(v) for v in history.get(key, [float("nan")] * n))
        self.history.setdefault("phase", [float("nan")] * self.epochs)[-n:] = [float(phase)] * n
        self.epochs += n


def fine_tune(
    classifier: ImageClassifier,
    train: Any,
    validation: Any = None,
    *,
    head_epochs: int = 5,
    epochs: int = 3,
    learning_rate: float = 1e-3,
    fine_tune_learning_rate: float | None = None,
    unfreeze: str | int | float | None = 0.3,
    warmup_epochs: float = 1.0,
    cache_features: bool = True,
    partial_cache: bool = True,
    views: int | None = None,
    cache_folder: str | None = None,
    class_weight: dict[int, float] | str | None = None,
    early_stopping: bool = True,
    patience: int | None = None,
    time_budget: float | None = None,
    callbacks: list[Any] | None = None,
    seed: int | None = None,
    initial_epoch: int = 0,
    history: dict[str, list[float]] | None = None,
    verbose: Any = "auto",
    progress: Progress | None = None,
) -> FineTuneResult:
    """Fine-tune ``classifier`` on ``train`` (a transferkit/Keras dataset of (images, labels) batches).

    ``epochs`` are phase-two epochs at most (0 skips it; fewer when validation stops improving for
    ``patience`` epochs -- 1 with the cache, where "while validation improves" is cheap to follow, 3 without --
    or ``time_budget`` seconds run out); ``fine_tune_learning_rate`` defaults to a tenth of
    ``learning_rate``; ``unfreeze`` is what :meth:`ImageClassifier.unfreeze` takes; ``views`` is the number of
    views cached per image (default :data:`features.DEFAULT_VIEWS` when ``train`` augments, else 1). With the cache,
    phase one is one logistic-regression fit (one history row) and ``head_epochs`` is not used; without it
    (``cache_features=False``) phase one is ``head_epochs`` of Keras ``fit``. ``partial_cache=False`` trains
    phase two on the images. ``class_weight="balanced"`` weighs classes inversely to their frequency (a
    multi-label classifier: each label's positive images by its negatives over its positives, ``pos_weight``);
    ``initial_epoch`` resumes (epochs before it are skipped, phase one's first); ``history``, the epochs before
    it (a :class:`~transferkit.train.callbacks.Checkpoint`'s), lets early stopping go on from their best.

    Started by ``torchrun`` (several processes), each process trains on its part of every epoch's batches
    of ``batch_size`` (:mod:`transferkit.train.distributed`); the learning rate is used as given.
    """
    world = distributed.world()
    if seed is not None:
        keras.utils.set_random_seed(seed)
        _reseed(classifier.model, seed * world.size + world.rank)  # each rank its own dropout masks
    progress = progress or make("quiet" if verbose == 0 or not world.main else "human")
    pos_weight = None
    if classifier.multi_label and class_weight is not None:
        if class_weight != "balanced":
            raise DatasetError(
                "A multi-label classifier takes class_weight='balanced' (each label's positives weighted by its "
                f"negatives over its positives); received {class_weight!r}."
            )
        pos_weight, class_weight = label_weights(train), None
    weights = class_weights(train) if class_weight == "balanced" else class_weight
    stop_early = early_stopping and validation is not None
    run = _Run(classifier, train, validation, progress, weights, list(callbacks or []), seed, time_budget, world)
    run.pos_weight = pos_weight
    if not cache_features:
        return run.uncached(head_epochs, epochs, learning_rate, fine_tune_learning_rate, unfreeze, warmup_epochs,
                            stop_early, patience or 3, initial_epoch, verbose)  # fmt: skip
    return run.cached(
        epochs=epochs, learning_rate=fine_tune_learning_rate or learning_rate / 10, unfreeze=unfreeze,
        warmup_epochs=warmup_epochs, partial=partial_cache, views=views, folder=cache_folder, stop_early=stop_early,
        patience=patience or 1, initial_epoch=initial_epoch, history=history,
    )  # fmt: skip


class _Run:
    """One call of :func:`fine_tune`: the shared state of its steps."""

    def __init__(
        self, classifier: Any, train: Any, validation: Any, progress: Progress, class_weight: Any,
        callbacks: list[Any], seed: int | None, budget: float | None, world: distributed.World,
    ) -> None:  # fmt: skip
        self.classifier, self.train, self.validation, self.progress = classifier, train, validation, progress
        self.class_weight, self.callbacks, self.seed = class_weight, callbacks, seed
        self.start = time.perf_counter()
        self.deadline = None if budget is None else self.start + budget
        self.result = FineTuneResult()
        self.cache: Any = None
        self.val_cache: Any = None
        self.top: Any = None
        self.pooled: Any = None
        self.at_head: Any = None  # the head fit's outputs, while its weights are the model's (:meth:`_outputs`)
        self.sparse = _sparse(train)
        self.multi_label = bool(classifier.multi_label)
        self.pos_weight: Any = None  # a multi-label classifier's per-label weights of positives (label_weights)
        self.batch_size = int(getattr(train, "batch_size", 32) or 32)
        self.world = world

    def left(self) -> float | None:
        return None if self.deadline is None else self.deadline - time.perf_counter()

    # -- the default: the cache, the convex head, phase two on the cache -------------------------------

    def cached(
        self, *, epochs: int, learning_rate: float, unfreeze: Any, warmup_epochs: float, partial: bool,
        views: int | None, folder: str | None, stop_early: bool, patience: int, initial_epoch: int,
        history: dict[str, list[float]] | None = None,
    ) -> FineTuneResult:  # fmt: skip
        label = f"fine-tuning {_what(unfreeze)}"
        parts, partial = self._split(unfreeze, partial and epochs > 0)
        n_views = 1 if not features.augments(self.train) else (views or features.DEFAULT_VIEWS)
        sources = [features.unaugmented(self.train)] + [self.train] * (n_views - 1)
        val_sources = [features.unaugmented(self.validation)] if self.validation is not None else []
        planned, skipped, steps = self._plan(parts, partial, sources, val_sources, epochs, unfreeze, label)

        cache, val_cache = self._cache(parts, sources, val_sources, partial, folder, steps[0].label)
        head_logs = (
            self._fit_head(parts, cache, val_cache, initial_epoch, steps[1].label) if initial_epoch < 1 else None
        )
        if not partial and planned > 0:  # phase two will train what was cached: the validation cache goes stale
            self.cache = self.val_cache = None
        if planned == 0:
            if skipped and epochs > 0:
                self._say(f"fine-tuning skipped: {skipped}")
            return self._done(learning_rate)

        start = time.perf_counter()
        self.classifier.unfreeze(unfreeze)
        if partial:
            first_epoch = max(initial_epoch, 1) - 1  # the cache's epoch count as a run never stopped had it here
            model = parts.top
            train = features.ViewBatches(cache, self.batch_size, self.seed, epoch=first_epoch, world=self.world)
            val = features.ViewBatches(val_cache, 256, shuffle=False) if val_cache is not None else None
        else:
            model, train, val = self.classifier.model, _shard(self.train, self.world), self.validation
        steps_per_epoch = len(train)
        model, val, first, last, evaluate = self._parallel(model, val)
        self._compile(model, _warmup_cosine(learning_rate, steps_per_epoch, planned, warmup_epochs))
        # the score to beat: the head's, as just measured, or (resuming) the best so far and the epochs since it
        wait, best_epoch = 0, -1
        if self.validation is None:
            initial = None
        elif head_logs is None and history:
            initial, wait, best_epoch = best_so_far(history)
        else:
            initial = score(head_logs or evaluate())
        keep = KeepBest(self.classifier.model, patience=patience if stop_early else planned + 1, initial=initial,
                        wait=wait, best_epoch=best_epoch)  # fmt: skip
        budget = Budget(self.deadline) if self.deadline is not None else None
        # keep before the run's callbacks: it takes the best weights before a resuming Checkpoint puts the last
        # epoch's back
        callbacks = [*first, keep, *([budget] if budget else []), *self.callbacks,
                     self.progress.callback("fine_tune", planned, steps_per_epoch, label), *last]  # fmt: skip
        # shuffle=False: the cache's order is its own, by seed and epoch (Keras's would draw from Python's global
        # random state, which a resumed run cannot replay)
        history = model.fit(
            train, validation_data=val, epochs=1 + planned, initial_epoch=max(initial_epoch, 1),
            class_weight=self.class_weight, callbacks=callbacks, verbose=0, shuffle=not partial,
        ).history  # fmt: skip
        self.result.add(history, phase=2)
        self.result.fine_tune_seconds = time.perf_counter() - start
        if not (keep.restored and keep.best_epoch < 0):  # phase two's weights stay: the head's outputs are stale
            self.at_head = None
        if budget is not None and budget.stopped:
            self._say("fine-tuning stopped: the time budget would not fit another epoch")
        if keep.restored:  # Keras numbers the epochs from the head's: fine-tuning epoch k is fit's epoch k
            best = "the head's" if keep.best_epoch < 0 else f"fine-tuning epoch {keep.best_epoch}'s"
            measure = "micro F1" if self.multi_label else "accuracy"
            self._say(f"kept {best} weights (best validation {measure})")
        return self._done(learning_rate)

    def _parallel(self, model: Any, val: Any) -> tuple[Any, Any, list[Any], list[Any], Any]:
        """What ``fit`` needs to train ``model`` on every rank: the model to fit (itself, or torch's DDP around it),
        the validation data to give ``fit``, callbacks to put first and last, and how to score the weights now.
        With several processes ``fit`` gets no validation data: :meth:`_validate` measures all of it each epoch."""
        world = self.world
        if world.size == 1:
            return model, val, [], [], lambda: _evaluate(model, val)
        validate = None if val is None else lambda: self._validate(model, val)
        first = [distributed.Synchronize(world, validate)]
        return distributed.DataParallel(model, world), None, first, [distributed.Agree(world)], validate

    def _validate(self, model: Any, val: Any) -> dict[str, float]:
        """``val_`` logs of all the validation images (a cache or a dataset): each rank predicts its share."""
        if isinstance(val, features.ViewBatches):
            x, y = val.data.view(0)
            rows = self.world.rows(len(x))
            pairs: Any = ((x[rows[i : i + 256]], y[rows[i : i + 256]]) for i in range(0, len(rows), 256))
        else:
            plain = features.unaugmented(val)
            pairs = features.batches(plain.subset(self.world.rows(len(plain.files))))
        probabilities, labels = [], []
        for x, y in pairs:
            probabilities.append(features.predict(model, x))
            labels.append(np.asarray(y))
        classes = len(self.classifier.class_names)
        p = self.world.gather(np.concatenate(probabilities) if probabilities else np.zeros((0, classes), np.float32))
        y = self.world.gather(np.concatenate(labels) if labels else np.zeros(0, np.float32))
        return {f"val_{k}": v for k, v in _logs(p, y, classes, self.multi_label).items()}

    def _compile(self, model: Any, learning_rate: Any) -> None:
        args = heads.compile_args(
            len(self.classifier.class_names), self.sparse, multi_label=self.multi_label, pos_weight=self.pos_weight
        )
        model.compile(optimizer=fused_adam.adam(learning_rate), **args)

    def _split(self, unfreeze: Any, partial: bool) -> tuple[Any, bool]:
        """The model cut below what phase two trains, or (no partial cache) below the whole backbone."""
        classifier = self.classifier
        if partial:
            classifier.unfreeze(unfreeze)
            parts = split(classifier)
            if parts.fraction > 0:
                return parts, True
        classifier.freeze()
        return split(classifier), False

    def _plan(
        self, parts: Any, partial: bool, sources: list[Any], val_sources: list[Any], epochs: int, unfreeze: Any,
        label: str,
    ) -> tuple[int, str | None, list[Any]]:  # fmt: skip
        """Time a few batches, decide how many phase-two epochs the budget affords, and show the plan."""
        classifier = self.classifier
        loss = heads.compile_args(len(classifier.class_names), self.sparse, multi_label=self.multi_label)["loss"]
        trainable = None
        if epochs > 0:
            trainable = parts.top if partial else classifier.model
            classifier.unfreeze(unfreeze)  # timed as phase two will train (without the cache: the whole model)
        costs = plan.measure(parts.bottom, sources[0], trainable, cached_input=partial, loss=loss)
        if not partial:
            classifier.freeze()
        train_images, val_images = _count(sources[0]), sum(_count(s) for s in val_sources)
        processes = self.world.size  # each caches, trains and validates on its share; each fits the whole head
        images = train_images * len(sources) + val_images
        # an epoch: the training steps, then the validation pass (the top alone on the cache: ~15% of a forward)
        epoch_seconds = (
            costs.train_step * train_images + costs.forward * val_images * (0.15 if partial else 1.0)
        ) / processes
        dim = int(np.prod(parts.pooled.output_shape[1:]))
        head = plan.head_seconds(train_images * len(sources), dim, len(classifier.class_names), len(linear.C_GRID))
        left = self.left()
        budget_left = None if left is None else left - images * costs.forward / processes - head
        planned, skipped = self.world.share(lambda: plan.fine_tune_epochs(epochs, epoch_seconds, budget_left))
        steps = plan.steps(images=images, forward=costs.forward / processes, head=head, epochs=planned or epochs,
                           epoch_seconds=epoch_seconds, label=label, skipped=skipped)  # fmt: skip
        self.progress.plan(self._info(len(sources)), steps)
        return planned, skipped, steps

    def _cache(
        self, parts: Any, sources: list[Any], val_sources: list[Any], partial: bool, folder: str | None, label: str
    ) -> tuple[Any, Any]:
        """The frozen part's output for every training view and the validation images."""
        start = time.perf_counter()
        show = self.progress
        show.start("cache", sum(_count(s) for s in sources + val_sources), unit="image", label=label)
        # float16 halves the training cache (accuracy unchanged); validation stays exact: the report uses it
        dtype = np.float16 if partial else np.float32
        world = self.world
        cache = features.extract(parts.bottom, sources, folder=folder, dtype=dtype, on_batch=show.advance, world=world)
        val_cache = None
        if val_sources:
            val_folder = folder and f"{folder}/val"
            val_cache = features.extract(
                parts.bottom, val_sources, folder=val_folder, on_batch=show.advance, world=world
            )
        show.end()
        if world.size > 1:  # each rank saw its own broken files: every rank learns of all of them
            for dataset in (self.train, self.validation):
                if hasattr(dataset, "note_skipped"):
                    dataset.note_skipped([s for skips in world.everyone(dataset.skipped) for s in skips])
        self.cache, self.val_cache, self.top, self.pooled = cache, val_cache, parts.top, parts.pooled
        self.result.cache_seconds, self.result.cut = time.perf_counter() - start, parts.cut
        return cache, val_cache

    def _done(self, learning_rate: float) -> FineTuneResult:
        """The classifier compiled as ``fit`` would leave it (``evaluate`` works), and its probabilities for
        the validation images from their cache (the frozen part has not changed: the same as ``predict``)."""
        self.classifier.compile(learning_rate, sparse=self.sparse)
        model = self.classifier.model
        model.optimizer.build(model.trainable_variables)  # saved and loaded whole: no "skipping variable" warning
        if self.val_cache is not None and self.world.main:  # the report's: rank 0 writes it
            self._outputs()
        return self.result

    def _outputs(self) -> None:
        """The validation images' probabilities (for the report) and the pooled features of the validation
        images and of the training images :func:`familiar.sample` keeps (for the out-of-distribution score),
        from the caches: the frozen part has not changed, so they are what ``predict`` would give. With the
        head's weights kept they are the head fit's own, else the top part runs on the cached activations."""
        x, y = self.cache.view(0)  # the plain training images
        rows = familiar.sample(y if self.multi_label or y.ndim == 1 else y.argmax(-1), self.seed or 0)
        if self.at_head is not None:
            train_pooled, val_pooled, probabilities = self.at_head
            kept = train_pooled[rows]
        else:
            probabilities = self.val_cache.map(self.top).features[0]
            val_pooled = self.val_cache.map(self.pooled).features[0]
            kept = features.FeatureSet(x[rows][None], y[rows][None]).map(self.pooled).features[0]
        self.result.val_probabilities = probabilities
        self.result.familiar_features = kept, val_pooled

    def _fit_head(self, parts: Any, cache: Any, val_cache: Any, epoch: int, label: str) -> dict[str, float]:
        """Phase one: the logistic-regression head on pooled features, put into the Keras head."""
        start = time.perf_counter()
        self.progress.start("head", 1, unit="fit", label=label)
        pooled = cache.map(parts.pooled)
        x = pooled.features.reshape(-1, pooled.features.shape[-1])
        y = pooled.labels.reshape(-1, *pooled.labels.shape[2:])
        val = val_cache.map(parts.pooled).view(0) if val_cache is not None else (None, None)
        classes = len(self.classifier.class_names)
        if self.multi_label:
            fitted = linear.fit_multi_label(x, y, val[0], val[1], pos_weight=self.pos_weight)
        else:
            fitted = linear.fit_logistic(x, y, classes, val[0], val[1], class_weight=self.class_weight)
        heads.layer(self.classifier.model, heads.HEAD).set_weights([fitted.kernel, fitted.bias])
        self.result.head_C = fitted.C
        logs = _logs(fitted.probabilities(x), y, classes, self.multi_label)
        if val[0] is not None and val[1] is not None:
            logs.update(
                {
                    f"val_{k}": v
                    for k, v in _logs(fitted.probabilities(val[0]), val[1], classes, self.multi_label).items()
                }
            )
        if val[0] is not None:
            self.at_head = pooled.features[0], val[0], fitted.probabilities(val[0])
        callbacks = keras.callbacks.CallbackList(self.callbacks, model=self.classifier.model)
        callbacks.on_epoch_end(epoch, logs)
        self.result.add({k: [v] for k, v in logs.items()}, phase=1)
        self.progress.advance(1)
        self.progress.end(logs)
        self.result.head_seconds = time.perf_counter() - start
        return logs

    def _info(self, views: int) -> dict[str, Any]:
        val = self.validation
        return {
            "model": self.classifier.base_model,
            "image_size": self.classifier.image_size[0],
            "images": _count(self.train),
            "val_images": _count(val) if val is not None else 0,
            "classes": len(self.classifier.class_names),
            "views": views,
            "budget_s": None if self.deadline is None else self.deadline - self.start,
        }

    def _say(self, note: str) -> None:
        self.progress.note(note)
        self.result.notes.append(note)

    # -- without the cache: the textbook recipe --------------------------------------------------------

    def uncached(
        self, head_epochs: int, epochs: int, learning_rate: float, fine_tune_learning_rate: float | None,
        unfreeze: Any, warmup_epochs: float, stop_early: bool, patience: int, initial_epoch: int, verbose: Any,
    ) -> FineTuneResult:  # fmt: skip
        classifier, train = self.classifier, _shard(self.train, self.world)
        verbose = verbose if self.world.main else 0

        def fit(rate: Any, epochs: int, initial: int) -> dict[str, list[float]]:
            model, val, first, last, _ = self._parallel(classifier.model, self.validation)
            self._compile(model, rate)
            early = [keras.callbacks.EarlyStopping("val_loss", patience=patience, restore_best_weights=True)]
            # early stopping before the run's callbacks: a Checkpoint then sees that it stopped the run
            callbacks = [*first, *(early if stop_early else []), *self.callbacks, *last]
            history: dict[str, list[float]] = model.fit(
                train, validation_data=val, epochs=epochs, initial_epoch=initial, class_weight=self.class_weight,
                callbacks=callbacks, verbose=verbose,
            ).history  # fmt: skip
            return history

        if head_epochs > initial_epoch:
            start = time.perf_counter()
            classifier.freeze()
            self.result.add(fit(learning_rate, head_epochs, initial_epoch), phase=1)
            self.result.head_seconds = time.perf_counter() - start
        if epochs > 0:
            start = time.perf_counter()
            classifier.unfreeze(unfreeze)
            rate = fine_tune_learning_rate or learning_rate / 10
            schedule = _warmup_cosine(rate, len(train), epochs, warmup_epochs)
            self.result.add(fit(schedule, head_epochs + epochs, max(initial_epoch, head_epochs)), phase=2)
            self.result.fine_tune_seconds = time.perf_counter() - start
        return self.result


def _shard(dataset: Any, world: distributed.World) -> Any:
    """This rank's part of every epoch of ``dataset`` (itself on one process)."""
    if world.size == 1:
        return dataset
    if not hasattr(dataset, "sharded"):
        raise DatasetError(
            f"Training on {world.size} processes splits each epoch of a transferkit dataset (image_folder or "
            f"image_table); received {type(dataset).__name__}."
        )
    return dataset.sharded(world.rank, world.size)


def _reseed(model: Any, seed: int) -> None:
    """Give every random layer of ``model`` (dropout, the backbone's stochastic depth) a state derived from
    ``seed`` and its place in the model. Keras seeds them when they are built, from Python's global random
    state, so a model built before the seed was set would draw other masks in every run."""
    generators = [g for layer in model._flatten_layers(include_self=True) for g in layer._seed_generators]
    for index, generator in enumerate(generators):
        state = (seed * 1_000_003 + index + 1) % (2**31 - 1)
        generator.state.assign(np.array([state, 0], dtype=generator.state.dtype))


def _warmup_cosine(rate: float, steps_per_epoch: int, epochs: int, warmup_epochs: float) -> Any:
    """From ``rate / 100`` up to ``rate`` over the warm-up, then a cosine decay to zero."""
    steps = max(1, steps_per_epoch * epochs)
    warmup = min(steps - 1, int(steps_per_epoch * warmup_epochs))
    return keras.optimizers.schedules.CosineDecay(
        rate / 100, decay_steps=max(1, steps - warmup), warmup_target=rate, warmup_steps=warmup
    )


def _what(unfreeze: Any) -> str:
    if unfreeze is None:
        return "the whole backbone"
    if isinstance(unfreeze, float) and 0 < unfreeze <= 1:
        return f"top {unfreeze:.0%}"
    return f"from {unfreeze!r}"


def _count(dataset: Any) -> int:
    files = getattr(dataset, "usable_files", None) or getattr(dataset, "files", None)
    if files is not None:
        return len(files)
    return len(dataset) * int(getattr(dataset, "batch_size", 1) or 1)


def _sparse(dataset: Any) -> bool:
    mode = getattr(dataset, "label_mode", None) or getattr(dataset, "class_mode", None)
    return mode in ("int", "sparse")


def _evaluate(model: Any, data: Any) -> dict[str, float]:
    values = model.evaluate(data, verbose=0, return_dict=True)
    return {f"val_{k}": float(v) for k, v in values.items()}


def _logs(probabilities: np.ndarray, labels: np.ndarray, classes: int, multi_label: bool = False) -> dict[str, float]:
    """Keras's epoch logs for a head's predictions: loss, accuracy and top-k accuracy (k = 5, or fewer); for
    multi-hot labels loss, the share of labels right and micro F1 at 0.5, as :func:`heads.compile_args`."""
    if multi_label:
        truth = np.asarray(labels) > 0.5
        p = np.clip(probabilities, 1e-7, 1 - 1e-7)
        on = p >= 0.5
        return {
            "loss": float(-(truth * np.log(p) + ~truth * np.log(1 - p)).mean()),
            "accuracy": float((on == truth).mean()),
            "f1": linear.micro_f1(truth, on),
        }
    y = linear.class_indices(labels)
    p = np.clip(probabilities[np.arange(len(y)), y], 1e-7, 1.0)
    k = min(5, classes)
    top_k = np.argsort(-probabilities, axis=1)[:, :k]
    return {
        "loss": float(-np.log(p).mean()),
        "accuracy": float((probabilities.argmax(axis=1) == y).mean()),
        "top_k": float((top_k == y[:, None]).any(axis=1).mean()),
    }
