"""Prediction speed: plain Keras ``model.predict``, transferkit's Keras path and ONNX Runtime (fp32, int8).

Two models at 224 px: the EfficientNet-Lite0 zoo model (1000 ImageNet classes) and a saved fine-tuned
Lite0 classifier (texture patches of scikit-image photos, 4 classes), each exported by ``transferkit
export`` (checked on real images) as float32 and as int8. The same images go through every path at batch
1 and batch 32; each row gives images/s and the fraction of this machine's fp32 matmul peak (NumPy, measured
in the same run) that the model's multiply-adds reach. The fine-tuned model's accuracy on its validation
images is printed for Keras, fp32 and int8. The last line is the issue's ratio for the saved classifier:
ONNX Runtime fp32 against plain Keras at batch 32.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

SIZE = 224
SECONDS = 4.0  # per measurement, after a warm-up call


def main() -> None:
    from transferkit import ImageClassifier, data, load_classifier  # first: it chooses Keras's backend
    from transferkit.export import export_onnx
    from transferkit.inference.predict import probabilities
    from transferkit.models import load_pretrained
    from transferkit.runtime import OnnxClassifier
    from transferkit.zoo.labels import imagenet_labels

    peak = _matmul_peak()
    print(f"fp32 matmul peak (NumPy, 2048^2): {peak:.0f} GFLOP/s")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        from transferkit.data.samples import texture_folders

        train_dir, val_dir = texture_folders(tmp, train_per_class=20, val_per_class=25, size=256)
        train = data.image_folder(train_dir, SIZE, batch_size=32, seed=0)
        val = data.image_folder(val_dir, SIZE, batch_size=32, class_names=train.class_names, shuffle=False)
        fine_tuned = ImageClassifier.from_pretrained(classes=train.class_names, seed=0)
        fine_tuned.fine_tune(train, val, epochs=0, verbose=0, seed=0)
        fine_tuned.save(folder / "textures.keras")
        zoo = ImageClassifier(load_pretrained("efficientnet_lite0"), imagenet_labels(), "efficientnet_lite0")
        pixels = np.concatenate([val.batch(i, augment=False)[0] for i in range(len(val))])
        labels = val.usable_labels
        ratio = keras32 = ort32 = 0.0
        for name, classifier in (("efficientnet_lite0 (zoo)", zoo), ("saved classifier", None)):
            if classifier is None:
                classifier = load_classifier(folder / "textures.keras")
            onnx_files = {}
            for kind in ("fp32", "int8"):
                path = folder / f"{classifier.base_model}-{len(classifier.class_names)}-{kind}.onnx"
                parity = export_onnx(
                    classifier, path, images=pixels, labels=labels if name == "saved classifier" else None,
                    int8=kind == "int8", min_agreement=0.0,
                )  # fmt: skip
                print(f"{name} {kind} export: {parity}")
                onnx_files[kind] = OnnxClassifier(path)
            flops = _flops(classifier.model)
            model = classifier.model
            paths: dict[str, Callable[[np.ndarray], Any]] = {
                "keras model.predict": lambda x, m=model: m.predict(x, batch_size=32, verbose=0),
                "transferkit keras path": lambda x, m=model: probabilities(m, x),
                "onnxruntime fp32": onnx_files["fp32"].probabilities,
                "onnxruntime int8": onnx_files["int8"].probabilities,
            }
            print(f"{name}: {flops / 1e9:.2f} GFLOP per image")
            speeds = {}
            for batch in (1, 32):
                for label, run in paths.items():
                    speed = _images_per_second(run, pixels[:batch])
                    speeds[label, batch] = speed
                    print(
                        f"  batch {batch:>2}  {label:<24} {speed:7.1f} img/s  "
                        f"{speed * flops / 1e9 / peak:6.1%} of matmul peak"
                    )
            for batch in (1, 32):
                keras_speed = speeds["keras model.predict", batch]
                print(
                    f"  batch {batch:>2} ratios to plain Keras: onnxruntime fp32 "
                    f"{speeds['onnxruntime fp32', batch] / keras_speed:.2f}, int8 "
                    f"{speeds['onnxruntime int8', batch] / keras_speed:.2f}"
                )
            if name == "saved classifier":
                keras_acc = float((probabilities(model, pixels).argmax(1) == labels).mean())
                fp32_acc = float((onnx_files["fp32"].probabilities(pixels).argmax(1) == labels).mean())
                int8_acc = float((onnx_files["int8"].probabilities(pixels).argmax(1) == labels).mean())
                print(
                    f"  accuracy on {len(labels)} validation images: keras {keras_acc:.1%}, onnxruntime fp32 "
                    f"{fp32_acc:.1%}, int8 {int8_acc:.1%}"
                )
                keras32, ort32 = speeds["keras model.predict", 32], speeds["onnxruntime fp32", 32]
                ratio = ort32 / keras32
        print(f"batch-32 img/s: keras {keras32:.1f}, onnxruntime {ort32:.1f}, ratio {ratio:.2f}")


def _images_per_second(run: Callable[[np.ndarray], Any], batch: np.ndarray) -> float:
    run(batch)  # warm-up: first-call allocations and graph set-up
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < SECONDS or count < 3:
        run(batch)
        count += 1
    return count * len(batch) / (time.perf_counter() - start)


def _matmul_peak() -> float:
    a = np.random.default_rng(0).standard_normal((2048, 2048), dtype=np.float32)
    a @ a
    best = 0.0
    for _ in range(5):
        start = time.perf_counter()
        a @ a
        best = max(best, 2 * 2048**3 / (time.perf_counter() - start) / 1e9)
    return best


def _flops(model: Any) -> float:
    """Multiply-adds x 2 of one image through the model's convolutions and dense layers."""
    total = 0.0

    def walk(layer: Any) -> None:
        nonlocal total
        for inner in getattr(layer, "layers", []):
            walk(inner)
        kernel = getattr(layer, "kernel", None)
        if kernel is None or not hasattr(layer, "output"):
            return
        out = layer.output.shape
        spatial = float(np.prod([d for d in out[1:-1]])) if len(out) == 4 else 1.0
        total += 2 * spatial * float(np.prod(kernel.shape))  # a depthwise kernel has one filter per channel

    walk(model)
    return total


if __name__ == "__main__":
    main()
