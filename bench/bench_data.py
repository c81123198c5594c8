"""Images per second through the article's augmenting pipeline: Keras's legacy generator against transferkit's.

The article trains with ``ImageDataGenerator(rescale=1./255, shear_range=0.2, zoom_range=0.2,
horizontal_flip=True).flow_from_directory(..., target_size=(299, 299), batch_size=32)``; here at 224x224.
On one folder of 504 camera-sized (640x480) JPEGs made from photos that scikit-image and scikit-learn ship,
one run measures a full epoch through:

- Keras 3's ``keras.src.legacy.preprocessing.image.ImageDataGenerator`` (Keras 2's code),
- ``transferkit.ImageDataGenerator`` with the same arguments,
- ``transferkit.data.image_folder`` with the same augmentation (``shear=0.2`` degrees, ``zoom=0.2``,
  ``flip``) and the rescale as ``preprocessing`` (it yields 0-255, the input transferkit models take):
  each image is resized and warped in one bilinear pass from the reduced-size JPEG decode, in the loader
  threads,
- the same with ``interpolation="nearest"``, the resize Keras 2's ``flow_from_directory`` uses by default
  (``image_folder`` defaults to bilinear, as transferkit's prediction does: better, for about the same cost,
  as the augmented batches are resized and warped in one pass either way),
- the ``image_folder`` dataset read the way ``model.fit`` reads it (Keras's PyDataset adapter, whose
  worker threads prefetch batches),
- Keras's legacy generator and transferkit's drop-in each feeding one epoch of ``model.fit`` on a tiny model
  (global pooling and a softmax ``Dense``: the data pipeline is the cost), as Keras 2 code trains.

After one warm-up batch each, every pipeline runs one epoch per round, ``--repeat`` rounds (so a slow
spell of a shared machine slows them all alike); the table gives the best and the median.
The last line is the ``fit`` case: ``inside model.fit img/s: keras legacy X, transferkit Y, ratio Z``.
Usage: ``python -m bench data`` or ``python -m bench.bench_data --images 600 --repeat 3``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

os.environ.setdefault("KERAS_BACKEND", "torch")

SIZE, BATCH = (224, 224), 32
ARTICLE = dict(rescale=1.0 / 255, shear_range=0.2, zoom_range=0.2, horizontal_flip=True)


def make_folder(root: Path, count: int, seed: int = 0) -> Path:
    """``count`` 640x480 JPEGs in six classes, each a random crop (and maybe a mirror) of a shipped photo."""
    from PIL import Image
    from skimage import data
    from sklearn.datasets import load_sample_images

    china, flower = load_sample_images().images
    photos = {"cat": data.chelsea(), "coffee": data.coffee(), "astronaut": data.astronaut(),
              "rocket": data.rocket(), "china": china, "flower": flower}  # fmt: skip
    rng = np.random.default_rng(seed)
    names = list(photos)
    for i in range(count):
        name = names[i % len(names)]
        photo = photos[name]
        h, w = photo.shape[:2]
        ch, cw = int(h * rng.uniform(0.6, 1.0)), int(w * rng.uniform(0.6, 1.0))
        top, left = rng.integers(0, h - ch + 1), rng.integers(0, w - cw + 1)
        crop = photo[top : top + ch, left : left + cw]
        if rng.random() < 0.5:
            crop = crop[:, ::-1]
        image = Image.fromarray(np.ascontiguousarray(crop)).resize((640, 480), Image.Resampling.BICUBIC)
        (root / name).mkdir(exist_ok=True)
        image.save(root / name / f"{name}_{i:04d}.jpg", quality=90)
    return root


def _rescale(x: np.ndarray) -> np.ndarray:
    x *= 1.0 / 255  # the batch is the dataset's own
    return x


def _epoch(run: Callable[[], int]) -> tuple[float, float, int]:
    """Wall seconds and CPU seconds (all threads of this process) for one pass, and the images it produced."""
    start, cpu = time.perf_counter(), time.process_time()
    images = run()
    return time.perf_counter() - start, time.process_time() - cpu, images


def _counted(batches: Callable[[], Any]) -> Callable[[], int]:
    return lambda: sum(len(batch[0]) for batch in batches())


def _indexed(sequence: Any) -> Callable[[], int]:
    return _counted(lambda: (sequence[i] for i in range(len(sequence))))


def _fitted(iterator: Any) -> Callable[[], int]:
    """One epoch of ``model.fit`` on a tiny model fed by ``iterator``."""
    import keras

    model = keras.Sequential([keras.Input((*SIZE, 3)), keras.layers.GlobalAveragePooling2D(),
                              keras.layers.Dense(iterator.num_classes, activation="softmax")])  # fmt: skip
    model.compile("adam", "categorical_crossentropy")
    model.fit(iterator, epochs=1, steps_per_epoch=1, verbose=0)  # Keras's one-time set-up of a model's first fit

    def run() -> int:
        model.fit(iterator, epochs=1, verbose=0)
        return int(iterator.n)

    return run


def measure(folder: Path, repeat: int) -> list[tuple[str, list[float], list[float]]]:
    """Images per second (wall clock) and per CPU-second of each pipeline, ``repeat`` epochs each."""
    from keras.src.legacy.preprocessing.image import ImageDataGenerator as KerasGenerator
    from keras.src.trainers.data_adapters.py_dataset_adapter import PyDatasetAdapter

    from transferkit import ImageDataGenerator, data

    flow = dict(target_size=SIZE, batch_size=BATCH, class_mode="categorical", seed=0)
    keras_it = KerasGenerator(**ARTICLE).flow_from_directory(str(folder), **flow)
    ours_it = ImageDataGenerator(**ARTICLE).flow_from_directory(folder, **flow)
    augment = ["shear=0.2", "zoom=0.2", "flip"]
    article = dict(batch_size=BATCH, seed=0, augment=augment, preprocessing=_rescale)
    folder_ds = data.image_folder(folder, SIZE, **article)
    nearest_ds = data.image_folder(folder, SIZE, **article, interpolation="nearest")

    def as_fit_reads_it() -> Any:
        adapter = PyDatasetAdapter(folder_ds, shuffle=False)
        adapter.on_epoch_begin()
        yield from adapter.get_numpy_iterator()
        adapter.on_epoch_end()

    fit_keras_it = KerasGenerator(**ARTICLE).flow_from_directory(str(folder), **flow)
    fit_ours_it = ImageDataGenerator(**ARTICLE).flow_from_directory(folder, **flow)
    pipelines = [
        ("keras legacy ImageDataGenerator", _indexed(keras_it)),
        ("transferkit ImageDataGenerator", _indexed(ours_it)),
        ("transferkit image_folder", _indexed(folder_ds)),
        ("transferkit image_folder, nearest resize (the legacy default)", _indexed(nearest_ds)),
        (f"transferkit image_folder, as fit reads it (workers={folder_ds.workers})", _counted(as_fit_reads_it)),
        ("keras legacy ImageDataGenerator inside model.fit", _fitted(fit_keras_it)),
        ("transferkit ImageDataGenerator inside model.fit", _fitted(fit_ours_it)),
    ]
    for iterator in (keras_it, ours_it, folder_ds, nearest_ds, fit_keras_it, fit_ours_it):
        iterator[0]  # warm-up: thread pools, imports, first allocations
    results: list[tuple[str, list[float], list[float]]] = [(name, [], []) for name, _ in pipelines]
    for round_ in range(repeat):  # rounds, so that a slow spell of the machine slows every pipeline alike
        for (name, rates, per_cpu), (_, run) in zip(results, pipelines):
            seconds, cpu_seconds, images = _epoch(run)
            rates.append(images / seconds)
            per_cpu.append(images / cpu_seconds)
            print(f"  round {round_ + 1}, {name}: {rates[-1]:.0f} images/s", flush=True)  # progress
    return results


def report(results: list[tuple[str, list[float], list[float]]], count: int) -> None:
    base = statistics.median(results[0][1])
    base_cpu = statistics.median(results[0][2])
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"\n{count} JPEGs 640x480 -> {SIZE[0]}x{SIZE[1]}, batch {BATCH}, shear 0.2 + zoom 0.2 + horizontal flip")
    backend = os.environ["KERAS_BACKEND"]
    print(f"{os.cpu_count()} CPU cores, load average {load:.2f} at the end, Keras backend {backend}")
    print(f"{'pipeline':<66} {'best img/s':>10} {'median':>7} {'x legacy':>8} {'img/CPU-s':>10} {'x legacy':>8}")
    for name, rates, per_cpu in results:
        median, cpu = statistics.median(rates), statistics.median(per_cpu)
        print(
            f"{name:<66} {max(rates):>10.0f} {median:>7.0f} {median / base:>7.1f}x {cpu:>10.0f} {cpu / base_cpu:>7.1f}x"
        )
    print("img/s is wall clock (what training waits for); img/CPU-s counts the work of every thread, so it does")
    print("not depend on how many cores are free. Other processes on the machine lower the first, not the second.")
    fit = {name: statistics.median(rates) for name, rates, _ in results if "inside model.fit" in name}
    legacy, ours = fit["keras legacy ImageDataGenerator inside model.fit"], fit[
        "transferkit ImageDataGenerator inside model.fit"]  # fmt: skip
    print(f"inside model.fit img/s: keras legacy {legacy:.0f}, transferkit {ours:.0f}, ratio {ours / legacy:.1f}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=600, help="how many JPEGs to make (600 for the issue)")
    parser.add_argument("--repeat", type=int, default=3, help="epochs timed per pipeline")
    args, _ = parser.parse_known_args(argv)  # `python -m bench data` leaves its own arguments
    with tempfile.TemporaryDirectory(prefix="transferkit-bench-") as tmp:
        start = time.perf_counter()
        folder = make_folder(Path(tmp), args.images)
        print(f"made {args.images} JPEGs in {time.perf_counter() - start:.1f}s", flush=True)
        report(measure(folder, args.repeat), args.images)


if __name__ == "__main__":
    main()
