"""Learning-rate schedule (linear warm-up, then cosine decay) and optimizers."""

from __future__ import annotations

import math

from edgeposinv.training.keras_api import keras, tf


class WarmupCosine(keras.optimizers.schedules.LearningRateSchedule):
    """``peak_lr`` reached linearly over ``warmup_steps``, then cosine decay to
    ``peak_lr * final_frac`` at ``total_steps``. ``step`` counts from ``start_step``
    (the optimizer's iteration count when this phase began)."""

    def __init__(
        self,
        peak_lr: float,
        total_steps: int,
        warmup_steps: int = 0,
        final_frac: float = 0.01,
        start_step: int = 0,
    ):
        super().__init__()
        self.peak_lr, self.total_steps = float(peak_lr), max(1, int(total_steps))
        self.warmup_steps, self.final_frac, self.start_step = (
            int(warmup_steps),
            float(final_frac),
            int(start_step),
        )

    def __call__(self, step):
        s = tf.cast(step, tf.float32) - float(self.start_step)
        warm = self.peak_lr * (s + 1.0) / max(1, self.warmup_steps)
        progress = tf.clip_by_value(
            (s - self.warmup_steps) / max(1, self.total_steps - self.warmup_steps), 0.0, 1.0
        )
        cos = self.final_frac + (1.0 - self.final_frac) * 0.5 * (1.0 + tf.cos(math.pi * progress))
        return tf.where(s < self.warmup_steps, warm, self.peak_lr * cos)

    def get_config(self) -> dict:
        return {
            "peak_lr": self.peak_lr,
            "total_steps": self.total_steps,
            "warmup_steps": self.warmup_steps,
            "final_frac": self.final_frac,
            "start_step": self.start_step,
        }


def make_optimizer(name: str, schedule, weight_decay: float):
    if name == "adamw":
        return keras.optimizers.AdamW(learning_rate=schedule, weight_decay=weight_decay)
    return keras.optimizers.Adam(learning_rate=schedule)
