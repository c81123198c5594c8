"""The head on a frozen backbone: plain Keras ``fit`` for 10 epochs vs transferkit (the backbone run once
per image, then the logistic-regression head), the same EfficientNet-Lite0 on the same real folder (texture
patches of scikit-image photos), in one run -- the plain fit as released, in a process of its own
(:mod:`bench.released`); prints both times, both validation accuracies and the speed-up."""

from __future__ import annotations

import tempfile
import time

from bench import folders, released

EPOCHS = 10
SIZE = 224


def plain(train_dir: str, val_dir: str) -> tuple[float, float]:
    """Seconds and final validation accuracy of plain Keras ``fit`` of the head on the frozen backbone."""
    from transferkit import ImageClassifier

    train, val = folders(train_dir, val_dir, SIZE)
    classifier = ImageClassifier.from_pretrained(classes=train.class_names, seed=0)
    classifier.freeze()
    classifier.compile(1e-3)
    start = time.perf_counter()
    history = classifier.model.fit(train, validation_data=val, epochs=EPOCHS, verbose=0).history
    return time.perf_counter() - start, history["val_accuracy"][-1]


def main() -> None:
    from transferkit import ImageClassifier
    from transferkit.data.samples import texture_folders

    with tempfile.TemporaryDirectory() as tmp:
        train_dir, val_dir = texture_folders(tmp, train_per_class=100, val_per_class=50, size=256)
        plain_s, plain_acc = released.run(plain, train_dir, val_dir)
        train, val = folders(train_dir, val_dir, SIZE)

        cached = ImageClassifier.from_pretrained(classes=train.class_names, seed=0)
        start = time.perf_counter()
        result = cached.fine_tune(train, val, epochs=0, verbose=0, seed=0)
        cache_s, cache_acc = time.perf_counter() - start, result.history["val_accuracy"][-1]

    sizes = f"{len(train.files)} train / {len(val.files)} val"
    print(f"the head on a frozen EfficientNet-Lite0 at {SIZE}px, {sizes}")
    print(f"  plain Keras fit, {EPOCHS} epochs   {plain_s:7.1f} s   val_accuracy {plain_acc:.3f}   (as released)")
    print(f"  transferkit cache + fit   {cache_s:7.1f} s   val_accuracy {cache_acc:.3f}")
    print(f"  speed-up                  {plain_s / cache_s:7.1f}x   (goal >= 10x)")


if __name__ == "__main__":
    main()
