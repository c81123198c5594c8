"""Keras's Adam on the torch backend in one fused kernel a step (torch's ``_fused_adam_``), with Keras's arithmetic.

Keras 3.15 updates Adam's moments and the variables with ten ``torch._foreach_*`` passes over every trainable
variable, allocating four temporaries the size of the model: 22.6 ms a step for the 2.6 M trainable weights of
EfficientNet-Lite0's top 30% on 2 CPU cores, where torch's fused kernel takes 1.1 ms (a phase-two step on the
feature cache takes 250-300 ms). The arithmetic is Keras's: torch scales epsilon by the second moment's bias
correction, so it is given ``epsilon / sqrt(1 - beta_2 ** t)``; the variables, moments and step count stay
Keras's own, so checkpoints and resumed runs do not change. Other backends, AMSGrad and variables of mixed
devices or of a dtype other than float32 get Keras's own update.
"""

from __future__ import annotations

import functools
import math
from typing import Any


def adam(learning_rate: Any) -> Any:
    """A Keras Adam optimizer with ``learning_rate`` (a float or a schedule): the fused one on torch."""
    import keras

    if keras.backend.backend() != "torch":
        return keras.optimizers.Adam(learning_rate)
    return _fused_class()(learning_rate)


@functools.cache
def _fused_class() -> Any:
    import torch
    from keras.src.backend.torch.optimizers.torch_adam import Adam as TorchAdam

    class FusedAdam(TorchAdam):
        def _parallel_update_step(self, grads: Any, variables: Any, learning_rate: Any) -> None:
            values = [v.value for v in variables]
            kinds = {(t.device, t.dtype) for t in [*values, *grads]}
            if self.amsgrad or len(kinds) != 1 or values[0].dtype != torch.float32:
                return super()._parallel_update_step(grads, variables, learning_rate)
            index = self._get_variable_index
            step = float(self.iterations.value) + 1
            torch._fused_adam_(
                values, list(grads), [self._momentums[index(v)].value for v in variables],
                [self._velocities[index(v)].value for v in variables], [],
                [torch.tensor(step, device=values[0].device)] * len(values),
                lr=float(learning_rate), beta1=float(self.beta_1), beta2=float(self.beta_2), weight_decay=0.0,
                eps=float(self.epsilon) / math.sqrt(1 - float(self.beta_2) ** step), amsgrad=False, maximize=False,
            )  # fmt: skip
            return None

    return FusedAdam
