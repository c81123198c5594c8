"""`make demo`: the main job on the embedded default model, offline, on photos that installed packages ship.

Writes the photos to ``demo-output/photos`` and classifies them with pretrained EfficientNet-Lite0 through the
``transferkit predict`` command, as a user would.
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
    photos = {
        "chelsea.jpg": data.chelsea(),
        "coffee.jpg": data.coffee(),
        "rocket.jpg": data.rocket(),
        "astronaut.jpg": data.astronaut(),
    }
    sklearn_images = load_sample_images()
    for name, array in zip(sklearn_images.filenames, sklearn_images.images):
        photos[Path(name).name] = array
    paths = []
    for name, array in photos.items():
        path = folder / name
        Image.fromarray(array).save(path, quality=95)
        paths.append(path)
    return paths


def main() -> int:
    from transferkit.cli import main as cli

    photos = sample_photos(OUT / "photos")
    print(f"$ transferkit predict --top 3 {' '.join(map(str, photos))}\n")
    start = time.perf_counter()
    status = cli(["predict", "--top", "3", *map(str, photos)])
    print(f"\n{len(photos)} photos classified in {time.perf_counter() - start:.1f} s (model load included).")
    return status


if __name__ == "__main__":
    sys.exit(main())
