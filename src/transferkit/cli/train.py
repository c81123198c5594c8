"""``transferkit train DATA_DIR --out RUN_DIR``: fine-tune on a folder of class sub-folders, into a run folder."""

from __future__ import annotations

import argparse
import os
from typing import Any

from ._output import fraction
from .predict import DEFAULT_MODEL


def add_parser(commands: Any) -> None:
    p = commands.add_parser(
        "train",
        help="fine-tune a pretrained model on a folder of class sub-folders",
        description="Fine-tune a pretrained model on DATA_DIR/<class>/*.jpg. The frozen part of the backbone runs "
        "once per image; a new head is fitted on its features (logistic regression, seconds); then the top 30%% of "
        "the backbone is fine-tuned on the cached activations while validation improves and the time budget lasts. "
        "The plan is shown before it starts. The run folder gets model.keras, metrics.json, history.csv, plots and "
        "report.html.",
    )
    p.add_argument("data_dir", metavar="DATA_DIR", help="a folder of class sub-folders, or a CSV table (path,label)")
    p.add_argument("--out", required=True, metavar="RUN_DIR", help="the run folder")
    p.add_argument(
        "--model",
        default=DEFAULT_MODEL,
        help=f"backbone name, or 'auto' to choose by quick probes on your data (default: {DEFAULT_MODEL})",
    )
    p.add_argument(
        "--time-budget",
        type=duration,
        default=300.0,
        metavar="TIME",
        help="the whole run's time: 90s, 5m, 1h or seconds; 'none' for no limit (default: 5m)",
    )
    p.add_argument(
        "--fine-tune-epochs",
        type=int,
        default=10,
        help="phase-two epochs at most; 0 skips it (default: 10; fewer when validation stops improving)",
    )
    p.add_argument(
        "--patience",
        type=int,
        default=None,
        help="phase-two epochs without a better validation score before it stops (default: 1 with the cache, 3 "
        "without)",
    )
    p.add_argument("--epochs", type=int, default=10, help="head epochs with --no-cache-features (default: 10)")
    p.add_argument("--image-size", type=int, default=None, help="input size (default: the model's own)")
    p.add_argument("--batch-size", type=int, default=32)
    split = p.add_mutually_exclusive_group()
    split.add_argument("--val-split", type=float, default=0.2, help="validation fraction (default: 0.2)")
    split.add_argument("--val-dir", default=None, help="a separate validation folder with the same classes")
    p.add_argument("--group-duplicates", action=argparse.BooleanOptionalAction, default=True,
                   help="keep copies and near-copies of a photo on one side of --val-split (default: on)")  # fmt: skip
    p.add_argument(
        "--augment",
        default="flip,rotate,zoom",
        help="comma-separated augmentations, or 'none'; with the cache they make the extra --views",
    )
    p.add_argument(
        "--views",
        type=int,
        default=None,
        help="images cached per photo: the plain one, then augmented ones (default: 1, measured best)",
    )
    p.add_argument(
        "--target-precision",
        type=fraction("precision", "0.95", zero=False),
        default=None,
        metavar="P",
        help="save per-class thresholds, chosen on the validation images, below which `predict` answers 'unsure' "
        "so that each class it does answer was right at least P of the time there (0 to 1, e.g. 0.95)",
    )
    p.add_argument(
        "--multi-label",
        action="store_true",
        help="DATA_DIR is a CSV of path,label rows with any number of labels (separated by ';') per image: "
        "a sigmoid head, per-label thresholds chosen for the best F1 on the validation images",
    )
    p.add_argument(
        "--threshold",
        type=fraction("threshold", "0.5", zero=False),
        default=None,
        metavar="P",
        help="with --multi-label: the decision threshold of every label instead of each one's best (0 to 1)",
    )
    p.add_argument(
        "--label-weights",
        action="store_true",
        help="with --multi-label: weigh each label's images by how rare the label is (negatives over positives)",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--cache-features", action=argparse.BooleanOptionalAction, default=True,
                   help="run the frozen part of the backbone once per image (default: on)")  # fmt: skip
    shown = p.add_mutually_exclusive_group()
    shown.add_argument("--quiet", action="store_true", help="print nothing but errors and warnings")
    shown.add_argument("--json-progress", action="store_true", help="one JSON object per line on stdout, for tools")
    spread = p.add_argument_group(
        "several processes",
        "Data-parallel training with torch.distributed: `torchrun --nproc-per-node N -m transferkit train ...` "
        "(or --nproc N on this machine); README, 'Training on several processes'.",
    )  # fmt: skip
    spread.add_argument("--nproc", type=int, default=1, metavar="N",
                        help="train in N processes on this machine (launches torchrun; default: 1)")  # fmt: skip
    spread.add_argument(
        "--lr-scaling", choices=("sqrt", "linear", "none"), default="sqrt",
        help="the learning rate for the global batch (--batch-size per process): times sqrt(processes) (default; "
        "suits Adam), times processes, or as given",
    )  # fmt: skip
    spread.add_argument("--dist-timeout", type=duration, default=600.0, metavar="TIME",
                        help="how long a process waits for the others before the job stops (default: 10m)")  # fmt: skip
    p.add_argument("--resume", action="store_true", help="continue an interrupted run in RUN_DIR")
    p.add_argument("--overwrite", action="store_true", help="replace a finished run in RUN_DIR")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..errors import TransferkitError

    if args.nproc < 1:
        raise TransferkitError(f"--nproc is a number of processes, 1 or more; received {args.nproc}.")
    if args.nproc > 1:
        if "LOCAL_RANK" in os.environ:
            raise TransferkitError("--nproc starts torchrun itself: under torchrun, leave it out.")
        from ..train.distributed import launch

        return launch(args.nproc, _without_nproc(args.argv))
    if args.dist_timeout is None:
        raise TransferkitError("--dist-timeout needs a time (e.g. 10m): processes must not wait for ever.")
    from ..train import TrainSettings, train

    if args.multi_label and args.target_precision is not None:
        raise TransferkitError("--target-precision is for single-label models; a multi-label one has --threshold.")
    if args.multi_label and args.model == "auto":
        raise TransferkitError("--model auto compares backbones with single-label probes; with --multi-label pass a "
                               "model name (e.g. --model efficientnet_lite0).")  # fmt: skip
    if args.label_weights and not args.multi_label:
        raise TransferkitError("--label-weights is for --multi-label models.")
    if args.patience is not None and args.patience < 1:
        raise TransferkitError(f"--patience is a number of epochs, 1 or more. Received: {args.patience}")
    if args.threshold is not None and not args.multi_label:
        raise TransferkitError("--threshold is for --multi-label models; a single-label one answers its top class.")

    settings = TrainSettings(
        data_dir=args.data_dir, out=args.out, model=args.model, epochs=args.epochs,
        fine_tune_epochs=args.fine_tune_epochs, patience=args.patience, image_size=args.image_size,
        batch_size=args.batch_size,
        val_split=args.val_split, val_dir=args.val_dir, seed=args.seed, cache_features=args.cache_features,
        time_budget=args.time_budget, views=args.views, target_precision=args.target_precision,
        group_duplicates=args.group_duplicates, multi_label=args.multi_label, threshold=args.threshold,
        label_weights=args.label_weights, lr_scaling=args.lr_scaling,
        augment=[a.strip() for a in args.augment.split(",") if a.strip()] if args.augment != "none" else [],
    )  # fmt: skip
    kind = "quiet" if args.quiet else "json" if args.json_progress else "human"
    train(settings, resume=args.resume, overwrite=args.overwrite, progress=kind, timeout=args.dist_timeout)
    return 0


def _without_nproc(argv: list[str]) -> list[str]:
    """The command line as given, less ``--nproc N`` / ``--nproc=N`` (and ``--debug``'s place kept)."""
    out, skip = [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg == "--nproc":
            skip = True
        elif not arg.startswith("--nproc="):
            out.append(arg)
    return out


def duration(text: str) -> float | None:
    """Seconds from ``90s``, ``5m``, ``1.5h`` or ``300``; None from ``none``."""
    value = text.strip().lower()
    if value in ("none", "no", "off"):
        return None
    scale = {"s": 1, "m": 60, "h": 3600}.get(value[-1:], 1)
    try:
        seconds = float(value[:-1] if value[-1:] in "smh" else value) * scale
    except ValueError:
        seconds = -1.0
    if not seconds > 0:
        raise argparse.ArgumentTypeError(f"'{text}' is not a duration: write 90s, 5m, 1h, a number of seconds or none")
    return seconds
