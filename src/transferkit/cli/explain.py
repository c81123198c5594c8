"""``transferkit explain MODEL IMAGE... --out DIR``: where the model looked, as a Grad-CAM overlay per image."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from ._output import error


def add_parser(commands: Any) -> None:
    p = commands.add_parser(
        "explain",
        help="show where a model looked: a Grad-CAM heatmap over each image",
        description="Write IMAGE's Grad-CAM heatmap for the top class (or --class) over the image, as "
        "DIR/<name>_gradcam.png. Red is where the evidence for the class is strongest; with a zoo model the "
        "border outside its centre crop stays cold (the model never saw it).",
    )
    p.add_argument("model", metavar="MODEL", help="a zoo model name or a .keras file saved by transferkit")
    p.add_argument("images", nargs="+", metavar="IMAGE", help="image files (JPEG, PNG, BMP, GIF, WebP, TIFF)")
    p.add_argument("--out", required=True, metavar="DIR", help="the folder to write the overlays into")
    p.add_argument(
        "--class",
        dest="class_name",
        metavar="NAME",
        help="explain this class, by name or output index (default: the top one)",
    )
    p.add_argument("--json", action="store_true", help="print JSON instead of one line per image")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..errors import ImageError
    from ..inference import class_index_of, grad_cam, load_explainable, overlay

    model = load_explainable(args.model)
    class_index = None if args.class_name is None else class_index_of(model, args.class_name)
    out = Path(args.out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        error(f"cannot create the output folder '{out}': {exc.strerror or exc}")
        return 1
    rows: list[dict[str, Any]] = []
    failed = False
    for path in args.images:
        try:
            found = grad_cam(model, path, class_index)
        except ImageError as exc:
            error(str(exc))
            failed = True
            continue
        target = _free_name(out, Path(path).stem, {row["overlay"] for row in rows})
        try:
            overlay(found.image, found.heatmap).save(target, format="PNG")
        except OSError as exc:
            error(f"cannot write '{target}': {exc.strerror or exc}")
            failed = True
            continue
        row = {"image": path, "label": found.label, "class_index": found.class_index,
               "probability": found.probability, "overlay": str(target)}  # fmt: skip
        rows.append(row)
        if not args.json:
            print(f"{path}: {found.label} ({found.probability:.1%}) -> {target}", flush=True)
    if args.json:
        print(json.dumps(rows, indent=2))
    return 1 if failed else 0


def _free_name(folder: Path, stem: str, taken: set[str]) -> Path:
    """``<stem>_gradcam.png``, numbered when two images in one call share a name (``a/cat.jpg``, ``b/cat.jpg``)."""
    target, n = folder / f"{stem}_gradcam.png", 1
    while str(target) in taken:
        n += 1
        target = folder / f"{stem}-{n}_gradcam.png"
    return target
