"""The one place that imports Keras.

TensorFlow 2.21's ``tf.keras`` is Keras 3, which tensorflow-model-optimization rejects;
the project uses the Keras 2 API from ``tf_keras`` everywhere. Import ``tf`` and
``keras`` from here.
"""

from __future__ import annotations

import os

from edgeposinv.extras import require_train_extra

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

require_train_extra()

import tensorflow as tf  # noqa: E402
import tf_keras as keras  # noqa: E402

tf.get_logger().setLevel("ERROR")

__all__ = ["tf", "keras"]
