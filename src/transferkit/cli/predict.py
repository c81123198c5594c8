"""``transferkit predict IMAGE...``: top classes of each image, as a table or JSON.

With ``--min-confidence P``, or a model trained with ``--target-precision`` (per-class thresholds), each image
also gets an ``answer``: its top class, or ``unsure`` (``class_index`` null) when the top probability is below
``P`` or its class's threshold (:func:`transferkit.runtime.confidence.answer`); the top classes are listed
either way. Otherwise the output is unchanged. A model trained by ``transferkit train`` also scores how unlike
its training images each image is: ``ood_score`` and ``unfamiliar`` (:mod:`transferkit.runtime.familiar`).
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from ._output import error, fraction

DEFAULT_MODEL = "efficientnet_lite0"


def add_parser(commands: Any) -> None:
    p = commands.add_parser("predict", help="classify images with a pretrained model")
    p.add_argument("images", nargs="+", metavar="IMAGE", help="image files (JPEG, PNG, BMP, GIF, WebP, TIFF)")
    p.add_argument(
        "--model",
        default=DEFAULT_MODEL,
        help=f"model name, a saved .keras file, or an exported .onnx file (without Keras) (default: {DEFAULT_MODEL})",
    )
    p.add_argument("--top", type=int, default=5, help="how many classes to show per image (default: 5)")
    p.add_argument("--tta", action="store_true", help="average each image's prediction with its mirror image's")
    p.add_argument(
        "--min-confidence",
        type=fraction("probability", "0.6"),
        default=None,
        metavar="P",
        help="answer 'unsure' for an image whose top probability is below P (0 to 1, e.g. 0.6)",
    )
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..runtime.confidence import answer

    rows, errors, thresholds, familiarity, multi_label = _onnx(args) if args.model.endswith(".onnx") else _keras(args)
    for exc in errors:
        error(str(exc))
    if multi_label:
        return _multi_label(args, rows, thresholds, familiarity) or (1 if errors else 0)
    floor = args.min_confidence
    answers = floor is not None or thresholds is not None
    if args.json:
        payload: list[dict[str, Any]] = []
        for n, (path, preds) in enumerate(rows):
            payload.append({"image": path, "predictions": preds, **(familiarity[n] if familiarity else {})})
            if answers:
                payload[-1]["answer"] = answer(**preds[0], min_confidence=floor, thresholds=thresholds)
        print(json.dumps(payload, indent=2))
    else:
        for n, (path, preds) in enumerate(rows):
            print(path)
            if familiarity and familiarity[n]["unfamiliar"]:
                print(f"  unfamiliar: unlike the training images (ood score {familiarity[n]['ood_score']:.3f})")
            if answers:
                found = answer(**preds[0], min_confidence=floor, thresholds=thresholds)
                why = f" (top class {preds[0]['label']} at {found['probability']:.2%})" if found["unsure"] else ""
                print(f"  answer: {found['label']}{why}")
            width = max(len(p["label"]) for p in preds)
            for rank, p in enumerate(preds, 1):
                print(f"  {rank}. {p['label']:<{width}}  {p['probability']:7.2%}  (class {p['class_index']})")
    return 1 if errors else 0


def _multi_label(
    args: argparse.Namespace, rows: list[Any], thresholds: list[Any] | None, familiarity: list[dict[str, Any]] | None
) -> int:
    """Every label at or above its threshold, then the top ``--top`` probabilities."""
    from ..runtime.confidence import label_thresholds

    if args.min_confidence is not None:
        error(f"'{args.model}' is a multi-label model: each label has its own threshold, so --min-confidence "
              "does not apply; drop it.")  # fmt: skip
        return 2
    payload = []
    for n, (path, preds) in enumerate(rows):
        cuts = label_thresholds(thresholds, len(preds))  # preds: every label, most probable first
        on = [p for p in preds if p["probability"] >= cuts[p["class_index"]]]
        payload.append({"image": path, "labels": on, "predictions": preds[: args.top],
                        **(familiarity[n] if familiarity else {})})  # fmt: skip
    if args.json:
        print(json.dumps(payload, indent=2))
        return 0
    for entry in payload:
        print(entry["image"])
        if entry.get("unfamiliar"):
            print(f"  unfamiliar: unlike the training images (ood score {entry['ood_score']:.3f})")
        shown = ", ".join(f"{p['label']} {p['probability']:.1%}" for p in entry["labels"])
        print(f"  labels: {shown or '(none above its threshold)'}")
        width = max(len(p["label"]) for p in entry["predictions"])
        for rank, p in enumerate(entry["predictions"], 1):
            print(f"  {rank}. {p['label']:<{width}}  {p['probability']:7.2%}  (label {p['class_index']})")
    return 0


#: (image, top predictions -- every label's for a multi-label model) rows, the errors, the model's per-class
#: thresholds (None: none), each row's ``{"ood_score", "unfamiliar"}`` (None: the model has no
#: out-of-distribution score), and whether the model is multi-label
Found = tuple[
    list[tuple[str, list[dict[str, Any]]]],
    list[Exception],
    list[float | None] | None,
    list[dict[str, Any]] | None,
    bool,
]


def _keras(args: argparse.Namespace) -> Found:
    from ..inference import load_model, predict_all

    model = load_model(args.model)
    multi_label = bool(getattr(model, "multi_label", False))
    top = len(model.class_names) if multi_label else args.top
    results = predict_all(model, args.images, top, tta=args.tta)
    rows = [(args.images[i], [p._asdict() for p in preds]) for i, preds in zip(results.kept, results.predictions)]
    return rows, list(results.errors), getattr(model, "thresholds", None), results.familiarity, multi_label


def _onnx(args: argparse.Namespace) -> Found:
    """An exported model through onnxruntime: neither Keras nor torch is imported."""
    import numpy as np

    from ..errors import ImageError
    from ..runtime import OnnxClassifier

    model = OnnxClassifier(args.model)
    kept: list[str] = []
    pixels = []
    errors: list[Exception] = []
    for path in args.images:
        try:
            pixels.append(model.load_image(path))
            kept.append(path)
        except ImageError as exc:
            errors.append(exc)
    if not pixels:
        return [], errors, model.thresholds, None, model.multi_label
    probs, familiarity = model.outputs(np.stack(pixels), tta=args.tta)
    top = len(model.class_names) if model.multi_label else args.top
    rows = [(path, [{"label": label, "class_index": i, "probability": p} for label, i, p in preds])
            for path, preds in zip(kept, model.top(probs, top))]  # fmt: skip
    return rows, errors, model.thresholds, familiarity, model.multi_label
