"""The out-of-distribution score on features: near the training features low, far from all of them high, the
threshold covering the validation images, and the bank stored and read back exactly."""

from __future__ import annotations

import numpy as np

from transferkit.runtime import familiar


def _clusters(rng: np.random.Generator, n: int, centres: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    labels = rng.integers(0, len(centres), n)
    return centres[labels] + 0.35 * rng.standard_normal((n, centres.shape[1])), labels


def test_images_near_the_training_features_are_familiar_and_others_not() -> None:
    rng = np.random.default_rng(0)
    centres = rng.standard_normal((4, 64))
    train, labels = _clusters(rng, 3000, centres)
    val, _ = _clusters(rng, 400, centres)
    kept = familiar.sample(labels, seed=0)
    assert len(kept) == familiar.BANK_SIZE and len(np.unique(kept)) == len(kept)
    assert np.abs(np.bincount(labels[kept]) / len(kept) - np.bincount(labels) / len(labels)).max() < 0.01
    found = familiar.fit(train[kept] * 7.0, val)  # any scale: the features are made unit length
    assert np.mean(found.scores(val) <= found.threshold) >= familiar.COVERAGE
    fresh, _ = _clusters(rng, 200, centres)
    assert np.mean(found.scores(fresh) > found.threshold) < 0.05  # new images of the same kinds
    foreign = rng.standard_normal((200, 64))  # directions unlike any class
    assert (found.scores(foreign) > found.threshold).all()
    judged = found.judge(np.concatenate([fresh[:1], foreign[:1]]))
    assert [j["unfamiliar"] for j in judged] == [False, True] and set(judged[0]) == {"ood_score", "unfamiliar"}


def test_the_kth_neighbour_counts_so_one_stray_training_image_does_not_make_its_copies_familiar() -> None:
    rng = np.random.default_rng(1)
    bank = rng.standard_normal((50, 16))
    found = familiar.Familiarity(familiar.unit(bank).astype(np.float16), threshold=0.5, neighbours=1)
    assert found.scores(bank[:3]).max() < 1e-3  # a copy of a training image: distance 0
    found.neighbours = 5
    assert found.scores(bank[:3]).min() > 0.2  # its 5th nearest is another image


def test_the_bank_is_stored_and_read_back() -> None:
    rng = np.random.default_rng(2)
    found = familiar.fit(rng.standard_normal((30, 8)), rng.standard_normal((10, 8)))
    for stored in (found.bank_bytes(), found.bank_text()):
        back = familiar.Familiarity.load(found.info(), stored)
        assert back.threshold == found.threshold and back.neighbours == found.neighbours
        assert back.bank.dtype == np.float16 and (back.bank == found.bank).all()
    assert familiar.sample(np.zeros(10, int)).tolist() == list(range(10))
