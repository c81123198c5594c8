"""Looking models up by name: canonical names, Keras class names and aliases, suggestions, registering."""

from __future__ import annotations

import pytest

from transferkit.errors import RegistryError, UnknownModelError
from transferkit.zoo import registry, specs
from transferkit.zoo.specs import ModelSpec

SPECS = list(registry.all_specs())


@pytest.mark.parametrize(
    ("name", "canonical"),
    [
        ("inception", "inception_v3"),
        ("InceptionV3", "inception_v3"),
        ("resnet", "resnet50"),
        ("vgg", "vgg16"),
        ("ResNet50V2", "resnet50_v2"),
        ("efficientnet-v2-s", "efficientnet_v2_s"),
        ("lite2", "efficientnet_lite2"),
    ],
)
def test_aliases_and_keras_names_resolve(name: str, canonical: str) -> None:
    assert registry.get(name).name == canonical


def test_every_keras_class_name_resolves_to_its_entry() -> None:
    for spec in SPECS:
        assert registry.get(spec.keras_name) is spec
        assert registry.get(spec.name.upper()) is spec


def test_an_unknown_name_suggests_the_closest() -> None:
    with pytest.raises(UnknownModelError, match=r"Unknown model 'resnt50'\. Did you mean 'resnet50'") as info:
        registry.get("resnt50")
    assert isinstance(info.value, LookupError)
    assert "transferkit models" in str(info.value)


def test_an_unknown_name_with_nothing_close_still_says_what_to_do() -> None:
    with pytest.raises(UnknownModelError, match=r"^Unknown model 'qqqq'\. Run `transferkit models`"):
        registry.get("qqqq")


def test_temporary_registers_a_spec_only_inside_the_block() -> None:
    extra = ModelSpec("tk_tmp_net", "TkTmpNet", "keras.applications:MobileNet", 32, specs.TF, 1, None, "MIT")
    with registry.temporary(extra):
        assert registry.get("TkTmpNet") is extra
    with pytest.raises(UnknownModelError):
        registry.get("tk_tmp_net")
    assert len(list(registry.all_specs())) == 43


def test_a_name_cannot_be_taken_twice() -> None:
    clash = ModelSpec("tk_clash", "Tk", "keras.applications:VGG16", 32, specs.TF, 1, None, "MIT", aliases=("vgg",))
    with pytest.raises(RegistryError, match="'vgg' of 'tk_clash' is already taken by 'vgg16'") as info:
        registry.register(clash)
    assert isinstance(info.value, ValueError)
    assert registry.get("vgg").name == "vgg16"
    for name in ("tk_clash", "Tk"):  # nothing of a refused spec is registered, not even its names before the clash
        with pytest.raises(UnknownModelError):
            registry.get(name)
