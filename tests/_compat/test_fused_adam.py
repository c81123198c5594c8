"""The fused Adam updates the weights as Keras's Adam does, step after step, with a schedule."""

from __future__ import annotations

import numpy as np
import pytest

from transferkit._compat.fused_adam import adam


@pytest.mark.parametrize("amsgrad", [False, True])
def test_the_fused_adam_takes_the_steps_keras_adam_takes(amsgrad: bool) -> None:
    import keras

    rng = np.random.default_rng(0)
    shapes = [(3, 3, 8, 16), (16,), (40, 7)]
    start = [rng.normal(size=s).astype(np.float32) for s in shapes]
    grads = [[rng.normal(size=s).astype(np.float32) * 10.0**-k for s in shapes] for k in range(6)]  # down to 1e-5
    schedule = keras.optimizers.schedules.ExponentialDecay(1e-2, decay_steps=2, decay_rate=0.5)
    results = []
    assert type(adam(1e-3)).__name__ == "FusedAdam"
    for make in (adam, keras.optimizers.Adam):
        variables = [keras.Variable(w.copy()) for w in start]
        optimizer = make(schedule)
        optimizer.amsgrad = amsgrad
        for step in grads:
            optimizer.apply([keras.ops.convert_to_tensor(g) for g in step], variables)
        results.append(([keras.ops.convert_to_numpy(v) for v in variables],
                        [keras.ops.convert_to_numpy(v) for v in optimizer.variables]))  # fmt: skip
    (ours, our_state), (theirs, their_state) = results
    assert len(our_state) == len(their_state)
    for a, b in zip(ours + our_state, theirs + their_state):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)  # float32 rounding: measured 2e-7 apart at most
    assert not np.allclose(ours[0], start[0])
