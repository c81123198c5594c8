"""``keras_preprocessing.image.<module>`` for the vendored tests, mapped onto one implementation.

``TRANSFERKIT_REFERENCE_IMPL`` picks it: ``transferkit`` (the drop-in under test) or ``keras3`` (the control:
Keras 3's own legacy copy of keras-preprocessing). Both use Keras 3's ``img_to_array`` / ``array_to_img`` /
``load_img``, which transferkit does not re-implement.
"""

from __future__ import annotations

import sys
import types

IMPLEMENTATIONS = ("transferkit", "keras3")


def install(implementation: str) -> None:
    """Register ``keras_preprocessing`` and its image submodules in ``sys.modules``."""
    import keras

    if implementation == "transferkit":
        import transferkit.keras2 as source
    elif implementation == "keras3":
        import keras.src.legacy.preprocessing.image as source  # type: ignore[no-redef]
    else:
        raise ValueError(f"TRANSFERKIT_REFERENCE_IMPL={implementation!r}; use one of {', '.join(IMPLEMENTATIONS)}.")
    names = {
        "image_data_generator": ["ImageDataGenerator"],
        "iterator": ["Iterator"],
        "directory_iterator": ["DirectoryIterator"],
        "dataframe_iterator": ["DataFrameIterator"],
        "numpy_array_iterator": ["NumpyArrayIterator"],
    }
    package = types.ModuleType("keras_preprocessing")
    package.__path__ = []
    image = types.ModuleType("keras_preprocessing.image")
    image.__path__ = []
    package.image = image  # type: ignore[attr-defined]
    sys.modules.update({"keras_preprocessing": package, "keras_preprocessing.image": image})
    submodules = {module: {name: getattr(source, name) for name in wanted} for module, wanted in names.items()}
    submodules["utils"] = {name: getattr(keras.utils, name) for name in ("img_to_array", "array_to_img", "load_img")}
    for module, attributes in submodules.items():
        sub = types.ModuleType(f"keras_preprocessing.image.{module}")
        sub.__dict__.update(attributes)
        setattr(image, module, sub)
        sys.modules[sub.__name__] = sub
    for attributes in submodules.values():
        image.__dict__.update(attributes)
