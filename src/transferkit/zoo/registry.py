"""Looking models up by name: every catalog entry under its canonical name, Keras class name and aliases.

Names match ignoring case, dashes, underscores and dots (``ResNet50V2`` is ``resnet50_v2``); an unknown
name suggests the closest ones. :func:`register` adds a model of your own, :func:`temporary` one for a
``with`` block. The registry imports the catalog, never the reverse, and does not import Keras.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator

from .._util.suggest import did_you_mean
from ..errors import RegistryError, UnknownModelError
from .catalog import SPECS
from .specs import ModelSpec

_REGISTRY: dict[str, ModelSpec] = {}
_LOOKUP: dict[str, str] = {}


def _key(name: str) -> str:
    return re.sub(r"[-_.\s]", "", name.lower())


def register(spec: ModelSpec) -> ModelSpec:
    """Add a spec; every one of its names must be new (else :class:`RegistryError` names the clash and
    nothing is registered)."""
    for alias in spec.all_names:
        existing = _LOOKUP.get(_key(alias))
        if existing is not None and existing != spec.name:
            raise RegistryError(f"name '{alias}' of '{spec.name}' is already taken by '{existing}'")
    for alias in spec.all_names:
        _LOOKUP[_key(alias)] = spec.name
    _REGISTRY[spec.name] = spec
    return spec


def unregister(name: str) -> None:
    """Remove a spec and its names (nothing happens for a name that is not registered)."""
    spec = _REGISTRY.pop(name, None)
    if spec is None:
        return
    for alias in spec.all_names:
        if _LOOKUP.get(_key(alias)) == spec.name:
            del _LOOKUP[_key(alias)]


def get(name: str) -> ModelSpec:
    """The spec for a canonical name, alias or Keras class name; suggests close names when unknown."""
    canonical = _LOOKUP.get(_key(name))
    if canonical is None:
        names = sorted({n for spec in _REGISTRY.values() for n in (spec.name, *spec.aliases)})
        hint = did_you_mean(name.lower(), names)
        raise UnknownModelError(f"Unknown model '{name}'.{hint} Run `transferkit models` to list them.")
    return _REGISTRY[canonical]


def all_specs() -> Iterator[ModelSpec]:
    """Every registered model, in registration order."""
    return iter(list(_REGISTRY.values()))


@contextlib.contextmanager
def temporary(spec: ModelSpec) -> Iterator[ModelSpec]:
    """Register ``spec`` for the duration of a ``with`` block (tests), then remove it and its names."""
    register(spec)
    try:
        yield spec
    finally:
        unregister(spec.name)


for _spec in SPECS:
    register(_spec)
