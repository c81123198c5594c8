"""Is an image like anything the model was trained on? An out-of-distribution score, one definition for every path.

Deep nearest neighbours (Sun et al., "Out-of-distribution detection with deep nearest neighbors", ICML 2022):
the features the head classifies (the backbone's pooled output), scaled to unit length, of up to
:data:`BANK_SIZE` training images are kept with the model; an image's ``ood_score`` is one minus its cosine
similarity to the :data:`NEIGHBOURS`-th nearest of them -- 0 for a copy of a training image, larger the
less it resembles any. A softmax probability cannot say this: a photo of something else still gets a class,
often confidently. Above ``threshold`` -- the score under which :data:`COVERAGE` of the validation images
fall -- the image is ``unfamiliar``. ``transferkit train`` fits it (:func:`fit`), the ``.keras`` file and the
ONNX export carry it, and ``predict``, ``evaluate``'s report and the server give the score. NumPy only.
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass
from typing import Any

import numpy as np

#: Training images kept (a stratified, seeded sample when there are more): 512 x 1,280 float16 features
#: add 1.3 MB to a Lite0 model, and their features cost ``train`` about 10 s on 2 cores.
BANK_SIZE = 512
#: The neighbour whose similarity counts (Sun et al. use the k-th; a small k suits a small bank).
NEIGHBOURS = 5
#: The share of validation images that stay under the threshold (1% of familiar images are flagged).
COVERAGE = 0.99


def unit(features: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (float32), so that a dot product is a cosine similarity."""
    rows = np.asarray(features, np.float32).reshape(len(features), -1)
    return rows / np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-12)


@dataclass
class Familiarity:
    """The kept training features (``bank``, unit rows), the neighbour that counts and the threshold."""

    bank: np.ndarray
    threshold: float
    neighbours: int = NEIGHBOURS

    def scores(self, features: np.ndarray) -> np.ndarray:
        """``ood_score`` per row of ``features`` (the head's input, any scale)."""
        if len(features) == 0:
            return np.zeros(0, np.float32)
        similarity = unit(features) @ self.bank.astype(np.float32).T
        k = min(self.neighbours, self.bank.shape[0])
        kth = -np.partition(-similarity, k - 1, axis=1)[:, k - 1]
        return np.asarray(np.clip(1.0 - kth, 0.0, 2.0), np.float32)

    def judge(self, features: np.ndarray) -> list[dict[str, Any]]:
        """``{"ood_score", "unfamiliar"}`` per row, for the JSON answers."""
        scores = self.scores(features)
        return [{"ood_score": round(float(s), 4), "unfamiliar": bool(s > self.threshold)} for s in scores]

    def info(self) -> dict[str, Any]:
        """What the metadata says of it (the bank itself is stored apart: :meth:`bank_bytes`)."""
        return {"threshold": self.threshold, "neighbours": self.neighbours, "images": int(self.bank.shape[0]),
                "coverage": COVERAGE, "method": "k-th nearest training image, cosine (Sun et al. 2022)"}  # fmt: skip

    def bank_bytes(self) -> bytes:
        """The bank as a ``.npy`` file (float16)."""
        out = io.BytesIO()
        np.save(out, self.bank.astype(np.float16), allow_pickle=False)
        return out.getvalue()

    def bank_text(self) -> str:
        """:meth:`bank_bytes` as base64, for a text field (the ONNX metadata)."""
        return base64.b64encode(self.bank_bytes()).decode("ascii")

    @classmethod
    def load(cls, info: dict[str, Any], bank: bytes | str) -> Familiarity:
        """From :meth:`info` and :meth:`bank_bytes` (or :meth:`bank_text`)."""
        data = base64.b64decode(bank) if isinstance(bank, str) else bank
        array = np.load(io.BytesIO(data), allow_pickle=False)
        return cls(array, float(info["threshold"]), int(info.get("neighbours", NEIGHBOURS)))


def sample(labels: np.ndarray, seed: int = 0) -> np.ndarray:
    """Indices of at most :data:`BANK_SIZE` training images to keep, each class in proportion (seeded; any
    of them for multi-hot labels)."""
    labels = np.asarray(labels)
    if len(labels) <= BANK_SIZE:
        return np.arange(len(labels))
    rng = np.random.default_rng(seed)
    if labels.ndim == 2:
        return np.sort(rng.permutation(len(labels))[:BANK_SIZE])
    share = BANK_SIZE / len(labels)
    kept = [rng.permutation(np.flatnonzero(labels == c))[: max(1, round(share * np.sum(labels == c)))]
            for c in np.unique(labels)]  # fmt: skip
    return np.sort(np.concatenate(kept)[:BANK_SIZE])


def fit(train_features: np.ndarray, val_features: np.ndarray) -> Familiarity:
    """Keep ``train_features`` (from the images :func:`sample` chose) and set the threshold at the
    :data:`COVERAGE` quantile of the validation images' scores."""
    found = Familiarity(unit(train_features).astype(np.float16), threshold=0.0)
    val_scores = found.scores(val_features)
    found.threshold = round(float(np.quantile(val_scores, COVERAGE)) if len(val_scores) else 1.0, 6)
    return found
