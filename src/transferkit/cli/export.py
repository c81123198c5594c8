"""``transferkit export MODEL --format onnx --out FILE``: a classifier for use without Keras, checked first."""

from __future__ import annotations

import argparse
import os
from typing import Any


def add_parser(commands: Any) -> None:
    p = commands.add_parser(
        "export",
        help="export a saved classifier or a zoo model to ONNX, checked against the original",
        description="Write MODEL (a .keras file saved by transferkit, or a zoo model name) as ONNX with its class "
        "names and preprocessing inside: it takes 0-255 RGB pixels. The original and the export are run on real "
        "photos first (the run's validation images when MODEL is a run's model.keras); below the required top-1 "
        "agreement nothing is written.",
    )
    p.add_argument("model", metavar="MODEL", help="a .keras file saved by transferkit, or a zoo model name")
    p.add_argument("--format", choices=["onnx"], default="onnx")
    p.add_argument("--out", required=True, metavar="FILE", help="the .onnx file to write")
    p.add_argument("--int8", action="store_true",
                   help="quantize to int8 (faster on a CPU, a little less exact: shows the change)")  # fmt: skip
    p.add_argument("--input-dtype", choices=["float32", "uint8"], default="float32",
                   help="the pixels the file takes (default: float32)")  # fmt: skip
    p.add_argument("--opset", type=int, default=None, help="ONNX opset (default: the exporter's)")
    p.add_argument("--images", nargs="+", default=None, metavar="IMAGE",
                   help="photos to check the export with (default: the run's validation images, else photos "
                        "scikit-learn ships)")  # fmt: skip
    p.add_argument("--min-agreement", type=float, default=None, metavar="FRACTION",
                   help="top-1 agreement with the original required (default: 0.995, with --int8 0.97)")  # fmt: skip
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..export import export_onnx, load_classifier, run_validation

    images, labels, source = args.images, None, "--images" if args.images else "photos scikit-learn ships"
    if args.model.endswith(".keras") or os.path.exists(args.model):
        classifier = load_classifier(args.model)
        validation = None if args.images else run_validation(args.model)
        if validation is not None:
            (images, labels), source = validation, "the run's validation images"
    else:
        from ..models import ImageClassifier, load_pretrained
        from ..zoo import registry
        from ..zoo.labels import imagenet_labels

        name = registry.get(args.model).name
        classifier = ImageClassifier(load_pretrained(name), imagenet_labels(), name)
    parity = export_onnx(
        classifier, args.out, images=images, labels=labels, opset=args.opset, min_agreement=args.min_agreement,
        input_dtype=args.input_dtype, int8=args.int8,
    )  # fmt: skip
    size = os.path.getsize(args.out) / 1e6
    kind = "int8" if args.int8 else "float32"
    print(f"wrote {args.out} ({kind}, {args.input_dtype} input, {size:.1f} MB): {parity}, on {source}")
    return 0
