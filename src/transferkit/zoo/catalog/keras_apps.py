"""The 40 ``keras.applications`` models as :class:`~transferkit.zoo.specs.ModelSpec` entries (data only).

The weight files are exactly the ones Keras
itself downloads -- same cache file name, URL and hash, read from ``keras/src/applications/*.py`` (Keras
3.15) and checked against them by tests/zoo/test_catalog.py -- so a file Keras already cached is reused.
Parameter counts are those of the model with its top as the builder makes it (checked by the tests); top-1
accuracies are the ImageNet validation figures of the Keras Applications table (keras.io/api/applications),
for MobileNetV3 the table in Keras's ``mobilenet_v3.py`` and for EfficientNet-Lite the TF original's README.
Licences are those Keras's documentation gives for each family's weights (ConvNeXt: the MIT licence of
facebookresearch/ConvNeXt, where its weights come from).
"""

from __future__ import annotations

from typing import Any

from ..specs import BUILT_IN, CAFFE, EFFICIENTNET_V1, TF, TORCH, ModelSpec, Normalization, WeightFile

#: The entries, in the order ``transferkit models`` lists them.
SPECS: list[ModelSpec] = []
_GCS = "https://storage.googleapis.com/tensorflow/keras-applications/"
_APPS = "keras.applications:"


def _files(
    base: str, top: str, top_hash: str | None, notop: str, notop_hash: str | None
) -> tuple[WeightFile, WeightFile]:
    """The with-top and no-top files of one model, both under ``base``."""
    return WeightFile(top, base + top, top_hash), WeightFile(notop, base + notop, notop_hash)


def _keras(
    name: str,
    keras_name: str,
    size: int,
    norm: Normalization,
    params: int,
    top1: float | None,
    licence: str,
    files: tuple[WeightFile, WeightFile],
    *,
    features: int,
    aliases: tuple[str, ...] = (),
    min_input_size: int = 32,
    crop_pct: float = 0.875,
    builder: str | None = None,
    builder_kwargs: dict[str, Any] | None = None,
) -> None:
    """Add a model built by ``keras.applications.<keras_name>`` unless ``builder`` says otherwise."""
    SPECS.append(
        ModelSpec(
            name=name,
            keras_name=keras_name,
            builder=builder or _APPS + keras_name,
            input_size=size,
            normalization=norm,
            params=params,
            top1=top1,
            licence=licence,
            aliases=aliases,
            feature_dim=features,
            min_input_size=min_input_size,
            crop_pct=crop_pct,
            builder_kwargs=builder_kwargs or {},
            weights=files[0],
            weights_notop=files[1],
        )
    )


# --- the article's three families, first ---------------------------------------------------------------------

_keras(
    "inception_v3", "InceptionV3", 299, TF, 23_851_784, 77.9, "Apache-2.0",
    _files(
        _GCS + "inception_v3/",
        "inception_v3_weights_tf_dim_ordering_tf_kernels.h5", "9a0d58056eeedaa3f26cb7ebd46da564",
        "inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5", "bcbd6486424b2319ff4ef7d526e38f63",
    ),
    features=2048, aliases=("inception",), min_input_size=75,
)  # fmt: skip

# ResNet V1 (Caffe preprocessing; weights ported from Kaiming He's, MIT) and V2 (Inception preprocessing).
for _name, _keras_name, _norm, _params, _top1, _licence, _top, _notop, _aliases in (
    ("resnet50", "ResNet50", CAFFE, 25_636_712, 74.9, "MIT",
     "2cb95161c43110f7111970584f804107", "4d473c1dd8becc155b73f8504c6f6626", ("resnet",)),
    ("resnet101", "ResNet101", CAFFE, 44_707_176, 76.4, "MIT",
     "f1aeb4b969a6efcfb50fad2f0c20cfc5", "88cf7a10940856eca736dc7b7e228a21", ()),
    ("resnet152", "ResNet152", CAFFE, 60_419_944, 76.6, "MIT",
     "100835be76be38e30d865e96f2aaae62", "ee4c566cf9a93f14d82f913c2dc6dd0c", ()),
    ("resnet50_v2", "ResNet50V2", TF, 25_613_800, 76.0, "Apache-2.0",
     "3ef43a0b657b3be2300d5770ece849e0", "fac2f116257151a9d068a22e544a4917", ()),
    ("resnet101_v2", "ResNet101V2", TF, 44_675_560, 77.2, "Apache-2.0",
     "6343647c601c52e1368623803854d971", "c0ed64b8031c3730f411d2eb4eea35b5", ()),
    ("resnet152_v2", "ResNet152V2", TF, 60_380_648, 78.0, "Apache-2.0",
     "a49b44d1979771252814e80f8ec446f9", "ed17cf2e0169df9d443503ef94b23b33", ()),
):  # fmt: skip
    _stem = _keras_name.lower() + "_weights_tf_dim_ordering_tf_kernels"
    _wf = _files(_GCS + "resnet/", f"{_stem}.h5", _top, f"{_stem}_notop.h5", _notop)
    _keras(_name, _keras_name, 224, _norm, _params, _top1, _licence, _wf, features=2048, aliases=_aliases)

# VGG: Caffe preprocessing; weights from VGG at Oxford under CC BY 4.0.
for _name, _keras_name, _params, _top, _notop, _aliases in (
    ("vgg16", "VGG16", 138_357_544, "64373286793e3c8b2b4e3219cbf3544b", "6d6bbae143d832006294945121d1f1fc", ("vgg",)),
    ("vgg19", "VGG19", 143_667_240, "cbe5617147190e668d6c5d5026f83318", "253f8cb515780f3b799900260a226db6", ()),
):
    _stem = f"{_name}_weights_tf_dim_ordering_tf_kernels"
    _wf = _files(_GCS + _name + "/", f"{_stem}.h5", _top, f"{_stem}_notop.h5", _notop)
    _keras(_name, _keras_name, 224, CAFFE, _params, 71.3, "CC-BY-4.0", _wf, features=512, aliases=_aliases)

# --- the rest, alphabetically by family ----------------------------------------------------------------------

# ConvNeXt normalises inside the model (include_preprocessing=True, the builder's default).
for _variant, _keras_name, _features, _params, _top1, _top, _notop in (
    ("tiny", "ConvNeXtTiny", 768, 28_589_128, 81.3,
     "8ae6e78ce2933352b1ef4008e6dd2f17bc40771563877d156bc6426c7cf503ff",
     "d547c096cabd03329d7be5562c5e14798aa39ed24b474157cef5e85ab9e49ef1"),
    ("small", "ConvNeXtSmall", 768, 50_223_688, 82.3,
     "ce1277d8f1ee5a0ef0e171469089c18f5233860ceaf9b168049cb9263fd7483c",
     "6fc8009faa2f00c1c1dfce59feea9b0745eb260a7dd11bee65c8e20843da6eab"),
    ("base", "ConvNeXtBase", 1024, 88_591_464, 85.3,
     "52cbb006d3dadd03f6e095a8ca1aca47aecdd75acb4bc74bce1f5c695d0086e6",
     "40a20c5548a5e9202f69735ecc06c990e6b7c9d2de39f0361e27baeb24cb7c45"),
    ("large", "ConvNeXtLarge", 1536, 197_767_336, 86.3,
     "070c5ed9ed289581e477741d3b34beffa920db8cf590899d6d2c67fba2a198a6",
     "96f02b6f0753d4f543261bc9d09bed650f24dd6bc02ddde3066135b63d23a1cd"),
    ("xlarge", "ConvNeXtXLarge", 2048, 350_196_968, 86.7,
     "c1f5ccab661354fc3a79a10fa99af82f0fbf10ec65cb894a3ae0815f17a889ee",
     "de3f8a54174130e0cecdc71583354753d557fcf1f4487331558e2a16ba0cfe05"),
):  # fmt: skip
    _name = f"convnext_{_variant}"
    _wf = _files(_GCS + "convnext/", f"{_name}.h5", _top, f"{_name}_notop.h5", _notop)
    _keras(_name, _keras_name, 224, BUILT_IN, _params, _top1, "MIT", _wf, features=_features)

# DenseNet: ImageNet mean/std ("torch" mode); weights under the BSD 3-clause licence of the original.
for _depth, _features, _params, _top1, _top, _notop in (
    (121, 1024, 8_062_504, 75.0, "9d60b8095a5708f2dcce2bca79d332c7", "30ee3e1110167f948a6b9946edeeb738"),
    (169, 1664, 14_307_880, 76.2, "d699b8f76981ab1b30698df4c175e90b", "b8c4d4c20dd625c148057b9ff1c1176b"),
    (201, 1920, 20_242_984, 77.3, "1ceb130c1ea1b78c3bf6114dbdfd8807", "c13680b51ded0fb44dff2d8f86ac8bb1"),
):
    _stem = f"densenet{_depth}_weights_tf_dim_ordering_tf_kernels"
    _wf = _files(_GCS + "densenet/", f"{_stem}.h5", _top, f"{_stem}_notop.h5", _notop)
    _keras(
        f"densenet{_depth}", f"DenseNet{_depth}", 224, TORCH, _params, _top1, "BSD-3-Clause", _wf, features=_features
    )

# EfficientNet B0-B7: see specs.EFFICIENTNET_V1 for the normalisation. The TF original evaluates on a
# centre crop of size / (size + 32).
for _n, _size, _features, _params, _top1, _top, _notop in (
    (0, 224, 1280, 5_330_571, 77.1, "902e53a9f72be733fc0bcb005b3ebbac", "50bc09e76180e00e4465e1a485ddc09d"),
    (1, 240, 1280, 7_856_239, 79.1, "1d254153d4ab51201f1646940f018540", "74c4e6b3e1f6a1eea24c589628592432"),
    (2, 260, 1408, 9_177_569, 80.1, "b15cce36ff4dcbd00b6dd88e7857a6ad", "111f8e2ac8aa800a7a99e3239f7bfb39"),
    (3, 300, 1536, 12_320_535, 81.6, "ffd1fdc53d0ce67064dc6a9c7960ede0", "af6d107764bb5b1abb91932881670226"),
    (4, 380, 1792, 19_466_823, 82.9, "18c95ad55216b8f92d7e70b3a046e2fc", "ebc24e6d6c33eaebbd558eafbeedf1ba"),
    (5, 456, 2048, 30_562_527, 83.6, "ace28f2a6363774853a83a0b21b9421a", "38879255a25d3c92d5e44e04ae6cec6f"),
    (6, 528, 2304, 43_265_143, 84.0, "165f6e37dce68623721b423839de8be5", "9ecce42647a20130c1f39a5d4cb75743"),
    (7, 600, 2560, 66_658_687, 84.3, "8c03f828fec3ef71311cd463b6759d99", "cbcfe4450ddf6f3ad90b1b398090fe4a"),
):
    _wf = _files(
        "https://storage.googleapis.com/keras-applications/",
        f"efficientnetb{_n}.h5", _top, f"efficientnetb{_n}_notop.h5", _notop,
    )  # fmt: skip
    _keras(
        f"efficientnet_b{_n}", f"EfficientNetB{_n}", _size, EFFICIENTNET_V1, _params, _top1, "Apache-2.0", _wf,
        features=_features, crop_pct=round(_size / (_size + 32), 3),
    )  # fmt: skip

# EfficientNetV2 normalises inside the model (include_preprocessing=True); evaluated uncropped (timm's
# pretrained configuration for these TF weights).
for _variant, _size, _features, _params, _top1, _top, _notop in (
    ("b0", 224, 1280, 7_200_312, 78.7, "21ecbf6da12460d5c40bb2f29ceb2188", "893217f2bb855e2983157299931e43ff"),
    ("b1", 240, 1280, 8_212_124, 79.8, "069f0534ff22adf035c89e2d9547a9dc", "0e80663031ca32d657f9caa404b6ec37"),
    ("b2", 260, 1408, 10_178_374, 80.5, "424e49f28180edbde1e94797771950a7", "1dfe2e7a5d45b6632553a8961ea609eb"),
    ("b3", 300, 1536, 14_467_622, 82.0, "1f1fc43bd98a6e4fd8fdfd551e02c7a0", "f6abf7b5849ac99a89b50dd3fd532856"),
    ("s", 384, 1280, 21_612_360, 83.9, "e1d88a8495beba45748fedd0cecbe016", "af0682fb74e8c54910f2d4393339c070"),
    ("m", 480, 1280, 54_431_388, 85.3, "a3bf6aa3276309f4fc6a34aa114c95cd", "1b8dc055df72dde80d614482840fe342"),
    ("l", 480, 1280, 119_027_848, 85.7, "27e6d408b53c7ebc868fefa357689935", "b0b66b5c863aef5b46e8608fe1711615"),
):
    _stem = f"efficientnetv2-{_variant}"
    _wf = _files(_GCS + "efficientnet_v2/", f"{_stem}.h5", _top, f"{_stem}_notop.h5", _notop)
    _keras(
        f"efficientnet_v2_{_variant}", f"EfficientNetV2{_variant.upper()}", _size, BUILT_IN, _params, _top1,
        "Apache-2.0", _wf, features=_features, crop_pct=1.0,
    )  # fmt: skip

_keras(
    "inception_resnet_v2", "InceptionResNetV2", 299, TF, 55_873_736, 80.3, "Apache-2.0",
    _files(
        _GCS + "inception_resnet_v2/",
        "inception_resnet_v2_weights_tf_dim_ordering_tf_kernels.h5", "e693bd0210a403b3192acc6073ad2e96",
        "inception_resnet_v2_weights_tf_dim_ordering_tf_kernels_notop.h5", "d19885ff4a710c122648d3b5c3b684e4",
    ),
    features=1536, min_input_size=75,
)  # fmt: skip

# MobileNet V1/V2 at width 1.0: Keras publishes no hash for these files (file_hash None).
_keras(
    "mobilenet", "MobileNet", 224, TF, 4_253_864, 70.4, "Apache-2.0",
    _files(_GCS + "mobilenet/", "mobilenet_1_0_224_tf.h5", None, "mobilenet_1_0_224_tf_no_top.h5", None),
    features=1024,
)  # fmt: skip
_stem = "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224"
_keras(
    "mobilenet_v2", "MobileNetV2", 224, TF, 3_538_984, 71.3, "Apache-2.0",
    _files(_GCS + "mobilenet_v2/", f"{_stem}.h5", None, f"{_stem}_no_top.h5", None),
    features=1280,
)  # fmt: skip

# MobileNetV3 normalises inside the model (include_preprocessing=True); top-1 from Keras's mobilenet_v3.py.
for _variant, _features, _params, _top1, _top, _notop in (
    ("small", 576, 2_554_968, 68.1, "8768d4c2e7dee89b9d02b2d03d65d862", "d3e8ec802a04aa4fc771ee12a9a9b836"),
    ("large", 960, 5_507_432, 75.6, "59e551e166be033d707958cf9e29a6a7", "07fb09a5933dd0c8eaafa16978110389"),
):
    _stem = f"weights_mobilenet_v3_{_variant}_224_1.0_float"
    _wf = _files(_GCS + "mobilenet_v3/", f"{_stem}.h5", _top, f"{_stem}_no_top_v2.h5", _notop)
    _keras(
        f"mobilenet_v3_{_variant}", f"MobileNetV3{_variant.title()}", 224, BUILT_IN, _params, _top1, "Apache-2.0", _wf,
        features=_features,
    )  # fmt: skip

# NASNet: the files are named differently in the cache and on the server. keras.applications.NASNetMobile
# refuses the torch backend for a bug since fixed (keras-team/keras#18451; its output equals JAX's, see the
# tests), so NASNetMobile is built by Keras's NASNet function with NASNetMobile's own arguments.
_NASNET_MOBILE = {  # NASNetMobile's own arguments to NASNet, from keras/src/applications/nasnet.py
    "penultimate_filters": 1056,
    "num_blocks": 4,
    "stem_block_filters": 32,
    "skip_reduction": False,
    "filter_multiplier": 2,
    "default_size": 224,
    "name": "nasnet_mobile",
}
for _name, _keras_name, _size, _features, _params, _top1, _url_name, _top, _notop, _builder, _kwargs in (
    ("nasnet_mobile", "NASNetMobile", 224, 1056, 5_326_716, 74.4, "NASNet-mobile", "020fb642bf7360b370c678b08e0adf61",
     "1ed92395b5b598bdda52abe5c0dbfd63", "keras.src.applications.nasnet:NASNet", _NASNET_MOBILE),
    ("nasnet_large", "NASNetLarge", 331, 4032, 88_949_818, 82.5, "NASNet-large", "11577c9a518f0070763c2b964a382f17",
     "d81d89dc07e6e56530c4e77faddd61b5", None, None),
):  # fmt: skip
    _wf = (
        WeightFile(f"{_name}.h5", f"{_GCS}nasnet/{_url_name}.h5", _top),
        WeightFile(f"{_name}_no_top.h5", f"{_GCS}nasnet/{_url_name}-no-top.h5", _notop),
    )
    _keras(
        _name, _keras_name, _size, TF, _params, _top1, "Apache-2.0", _wf,
        features=_features, builder=_builder, builder_kwargs=_kwargs,
    )  # fmt: skip

_keras(
    "xception", "Xception", 299, TF, 22_910_480, 79.0, "MIT",
    _files(
        _GCS + "xception/",
        "xception_weights_tf_dim_ordering_tf_kernels.h5", "0a58e3b7378bc2990ea3b43d5981f1f6",
        "xception_weights_tf_dim_ordering_tf_kernels_notop.h5", "b0042744bf5b25fce3cb969f33bebb97",
    ),
    features=2048, min_input_size=71,
)  # fmt: skip
