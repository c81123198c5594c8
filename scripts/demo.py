"""`make demo`: the main job on the embedded default model, offline, on photos that installed packages ship.

1. Pretrained EfficientNet-Lite0 classifies sample photos (ImageNet classes).
2. It is fine-tuned on a small real labelled folder (four textures from scikit-image photos, train and
   validation patches from disjoint parts of each photo) with ``transferkit train``; the run report is
   written to ``demo-output/run/report.html``.
3. The fine-tuned model predicts validation images it never saw.
All three go through the ``transferkit`` command, as a user would run it.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from PIL import Image

OUT = Path("demo-output")


def sample_photos(folder: Path) -> list[Path]:
    from skimage import data
    from sklearn.datasets import load_sample_images

    folder.mkdir(parents=True, exist_ok=True)
    photos = {"chelsea.jpg": data.chelsea(), "coffee.jpg": data.coffee(), "rocket.jpg": data.rocket()}
    sklearn_images = load_sample_images()
    for name, array in zip(sklearn_images.filenames, sklearn_images.images):
        photos[Path(name).name] = array
    paths = []
    for name, array in photos.items():
        Image.fromarray(array).save(folder / name, quality=95)
        paths.append(folder / name)
    return paths


def step(title: str, argv: list[str]) -> int:
    from transferkit.cli import main as cli

    print(f"\n== {title}\n$ transferkit {' '.join(argv)}\n", flush=True)
    start = time.perf_counter()
    status = cli(argv)
    print(f"({time.perf_counter() - start:.0f} s)", flush=True)
    return status


def main() -> int:
    from transferkit.data.samples import texture_folders

    photos = sample_photos(OUT / "photos")
    train_dir, val_dir = texture_folders(OUT / "textures", train_per_class=30, val_per_class=15, size=256)
    run = OUT / "run"
    examples = [str(sorted((val_dir / c).iterdir())[0]) for c in ("brick", "grass", "gravel", "moon")]
    return (
        step("1. Pretrained ImageNet classifier", ["predict", "--top", "3", *map(str, photos)])
        or step(
            "2. Fine-tune on a labelled folder (4 texture classes)",
            ["train", str(train_dir), "--val-dir", str(val_dir), "--out", str(run), "--overwrite"],
        )
        or step(
            "3. Predict with the fine-tuned model",
            ["predict", "--top", "2", "--model", str(run / "model.keras"), *examples],
        )
    )


if __name__ == "__main__":
    sys.exit(main())
