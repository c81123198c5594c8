"""Multi-label training: ``transferkit train labels.csv --multi-label`` against the plain Keras recipe.

Data: :func:`transferkit.data.samples.texture_table`, 400 images at 128 px, each a 2x2 grid of 0-3 of four
real textures, labelled by the textures it shows; the same iteratively stratified split (300 / 100) for both.
The plain way is the Keras guide's transfer learning with a sigmoid head: the frozen EfficientNet-Lite0
backbone, global pooling, a sigmoid ``Dense``, binary cross-entropy, Adam at 1e-3, flips, ``fit`` for 5 epochs
on the images, every label decided at 0.5. transferkit: the feature cache, one logistic regression per label,
fine-tuning the top 30% and per-label thresholds (at most 3 fine-tuning epochs). Both are scored on the same
validation images: micro F1 (transferkit's at its thresholds, chosen on those images, and at 0.5) and mAP.
Last line: ``multi-label micro F1: keras X, transferkit Y (at 0.5: Z); seconds: keras A, transferkit B``.
``python -m bench multi_label``; under a minute on 2 CPU cores.
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

import numpy as np

SIZE = 128
IMAGES = 400
KERAS_EPOCHS = 5


def main() -> None:
    import keras
    from sklearn.metrics import average_precision_score, f1_score

    from transferkit import data, load_pretrained
    from transferkit.data.samples import texture_table
    from transferkit.train import TrainSettings, train

    with tempfile.TemporaryDirectory() as tmp:
        table = texture_table(Path(tmp) / "grids", count=IMAGES, size=SIZE)
        start = time.perf_counter()
        settings = TrainSettings(
            data_dir=str(table), out=str(Path(tmp) / "run"), multi_label=True, image_size=SIZE, val_split=0.25,
            fine_tune_epochs=3, batch_size=32, time_budget=None, augment=["flip"],
        )  # fmt: skip
        metrics = train(settings, progress="quiet")
        ours = time.perf_counter() - start
        print(f"transferkit: {ours:.0f} s, micro F1 {metrics['micro_f1']:.3f} at its thresholds, "
              f"{metrics['micro_f1_at_0.5']:.3f} at 0.5, mAP {metrics['mAP']:.3f} "
              f"(all-positive baseline {metrics['baselines']['all_positive_micro_f1']:.3f})")  # fmt: skip

        train_data, val_data = data.image_table(
            table, SIZE, batch_size=32, multi_label=True, validation_split=0.25, subset="both", seed=0,
            augment=["flip"],
        )  # fmt: skip
        start = time.perf_counter()
        backbone = load_pretrained("efficientnet_lite0", include_top=False, input_shape=(SIZE, SIZE, 3))
        backbone.trainable = False
        inputs = keras.Input((SIZE, SIZE, 3))
        x = keras.layers.GlobalAveragePooling2D()(backbone(inputs, training=False))
        outputs = keras.layers.Dense(len(train_data.class_names), activation="sigmoid")(keras.layers.Dropout(0.2)(x))
        model = keras.Model(inputs, outputs)
        model.compile(keras.optimizers.Adam(1e-3), "binary_crossentropy")
        model.fit(train_data, epochs=KERAS_EPOCHS, verbose=0)
        plain_val = val_data.without_augmentation()
        probs = np.asarray(model.predict(plain_val, verbose=0))
        theirs = time.perf_counter() - start
        truth = plain_val.usable_labels > 0
        keras_f1 = float(f1_score(truth, probs >= 0.5, average="micro"))
        keras_map = float(np.mean([average_precision_score(truth[:, k], probs[:, k]) for k in range(truth.shape[1])]))
        print(f"plain Keras: {theirs:.0f} s, micro F1 {keras_f1:.3f} at 0.5, mAP {keras_map:.3f}")
        print(json.dumps({"validation_images": int(len(truth)), "keras_epochs": KERAS_EPOCHS}))
        print(
            f"multi-label micro F1: keras {keras_f1:.3f}, transferkit {metrics['micro_f1']:.3f} "
            f"(at 0.5: {metrics['micro_f1_at_0.5']:.3f}); seconds: keras {theirs:.0f}, transferkit {ours:.0f}"
        )
