"""Which test-time augmentation pays: none, the mirror image (transferkit's ``--tta``), or the mirror image
plus five crops (four corners and the centre at 87.5%, each with its mirror image: 12 views).

A Lite0 classifier is fine-tuned for a minute by default on :func:`transferkit.data.samples.photo_folders`
(seven kinds of picture, 420 training images), then its 210 validation images are classified with each set
of views, averaging probabilities. Prints accuracy and cross-entropy per set and what each costs in model
calls; the last line is the accuracies. ``python -m bench tta``; about 4 minutes on 2 CPU cores.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable

import numpy as np

SIZE = 224
CROP = 0.875


def main() -> None:
    from transferkit import ImageClassifier, data  # first: it chooses Keras's backend
    from transferkit.data.images import resize_bilinear
    from transferkit.data.samples import photo_folders
    from transferkit.inference.predict import probabilities
    from transferkit.runtime import tta

    with tempfile.TemporaryDirectory() as tmp:
        train_dir, val_dir = photo_folders(tmp)
        train = data.image_folder(train_dir, SIZE, batch_size=32, seed=0, augment=["flip", "rotate", "zoom"])
        val = data.image_folder(val_dir, SIZE, batch_size=32, class_names=train.class_names, shuffle=False)
        clf = ImageClassifier.from_pretrained(classes=train.class_names, seed=0)
        clf.fine_tune(train, val, epochs=2, verbose=0, seed=0)
        pixels = np.concatenate([val.batch(i, augment=False)[0] for i in range(len(val))])
        labels = val.usable_labels

        def crops(x: np.ndarray) -> list[np.ndarray]:
            side = int(SIZE * CROP)
            starts = [(0, 0), (0, SIZE - side), (SIZE - side, 0), (SIZE - side, SIZE - side)]
            starts.append(((SIZE - side) // 2, (SIZE - side) // 2))
            out = []
            for top, left in starts:
                cut = x[:, top : top + side, left : left + side]
                out.append(np.stack([resize_bilinear(np.rint(i).astype(np.uint8), (SIZE, SIZE)) for i in cut]))
            return out

        sets: dict[str, Callable[[np.ndarray], list[np.ndarray]]] = {
            "none": lambda x: [x],
            "flip (--tta)": tta.views,
            "flip + 5 crops": lambda x: [v for c in [x, *crops(x)] for v in tta.views(c)],
        }
        accuracy = {}
        for name, views in sets.items():
            chosen = views(pixels)
            probs = np.mean([probabilities(clf.model, v) for v in chosen], axis=0)
            accuracy[name] = float((probs.argmax(1) == labels).mean())
            loss = float(-np.log(np.clip(probs[np.arange(len(labels)), labels], 1e-7, 1)).mean())
            print(f"{name:<16} {len(chosen):>2} model calls per image  accuracy {accuracy[name]:.1%}  loss {loss:.3f}")
        print("tta accuracy: " + ", ".join(f"{k} {v:.1%}" for k, v in accuracy.items()))


if __name__ == "__main__":
    main()
