"""``transferkit train DATA_DIR --out RUN_DIR``: fine-tune on a folder of class sub-folders, into a run folder."""

from __future__ import annotations

import argparse
from typing import Any

from .predict import DEFAULT_MODEL


def add_parser(commands: Any) -> None:
    p = commands.add_parser(
        "train",
        help="fine-tune a pretrained model on a folder of class sub-folders",
        description="Fine-tune a pretrained model on DATA_DIR/<class>/*.jpg. Phase one trains a new head on cached "
        "backbone features (seconds per epoch); phase two fine-tunes the top 30% of the backbone at a tenth of the "
        "learning rate. The run folder gets model.keras, metrics.json, history.csv, plots and report.html.",
    )
    p.add_argument("data_dir", metavar="DATA_DIR")
    p.add_argument("--out", required=True, metavar="RUN_DIR", help="the run folder")
    p.add_argument("--model", default=DEFAULT_MODEL, help=f"backbone name (default: {DEFAULT_MODEL})")
    p.add_argument("--epochs", type=int, default=10, help="head epochs, backbone frozen (default: 10)")
    p.add_argument("--fine-tune-epochs", type=int, default=2, help="phase-two epochs; 0 skips it (default: 2)")
    p.add_argument("--image-size", type=int, default=None, help="input size (default: the model's own)")
    p.add_argument("--batch-size", type=int, default=32)
    split = p.add_mutually_exclusive_group()
    split.add_argument("--val-split", type=float, default=0.2, help="validation fraction (default: 0.2)")
    split.add_argument("--val-dir", default=None, help="a separate validation folder with the same classes")
    p.add_argument("--augment", default="flip,rotate,zoom", help="comma-separated augmentations, or 'none'")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--cache-features", action=argparse.BooleanOptionalAction, default=True,
                   help="train the head on cached backbone features (default: on)")  # fmt: skip
    p.add_argument("--resume", action="store_true", help="continue an interrupted run in RUN_DIR")
    p.add_argument("--overwrite", action="store_true", help="replace a finished run in RUN_DIR")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..train import TrainSettings, train

    settings = TrainSettings(
        data_dir=args.data_dir, out=args.out, model=args.model, epochs=args.epochs,
        fine_tune_epochs=args.fine_tune_epochs, image_size=args.image_size, batch_size=args.batch_size,
        val_split=args.val_split, val_dir=args.val_dir, seed=args.seed, cache_features=args.cache_features,
        augment=[a.strip() for a in args.augment.split(",") if a.strip()] if args.augment != "none" else [],
    )  # fmt: skip
    metrics = train(settings, resume=args.resume, overwrite=args.overwrite)
    print(
        f"\nvalidation accuracy {metrics['val_accuracy']:.1%} (loss {metrics['val_loss']:.3f}) on "
        f"{sum(c['support'] for c in metrics['per_class'].values())} images; "
        f"{len(metrics['skipped_files'])} file(s) skipped"
    )
    print(f"model: {args.out}/model.keras   report: {args.out}/report.html")
    return 0
