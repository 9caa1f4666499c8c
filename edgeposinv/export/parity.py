"""Does the converted model answer as the Keras model did? The parity check and its gate.

The LiteRT interpreter and the Keras model classify the same images (the run's validation
split, or a sample of its training images when it has none); a conversion that loses more
than ``max_drop_points`` of accuracy — and at least :data:`MIN_IMAGES_LOST` images, one
flipped image being the check's resolution on a small split — is refused unless forced.
"""

from __future__ import annotations

import logging
import os
import tempfile
from typing import Any

import numpy as np

from edgeposinv.errors import ExportError

__all__ = [
    "MIN_IMAGES_LOST",
    "gate_refuses",
    "kept_within_resolution",
    "open_classifier",
    "parity_check",
    "parity_gate",
]

log = logging.getLogger(__name__)

# One flipped image is the gate's resolution, not a verdict: on a validation split of 20
# images it alone is 5 points, and int8 scores that tie in float flip either way.
MIN_IMAGES_LOST = 2


def open_classifier(model_bytes: bytes, threads: int, labels: tuple[str, ...] | None = None):
    """A LiteRT classifier over converted bytes that are not written anywhere yet."""
    from edgeposinv.tflite.runtime import TFLiteClassifier

    fd, path = tempfile.mkstemp(suffix=".tflite")
    with os.fdopen(fd, "wb") as f:
        f.write(model_bytes)
    try:
        return TFLiteClassifier(path, threads=threads, labels=labels)
    finally:
        os.unlink(path)  # the interpreter holds the bytes


def parity_check(model, model_bytes: bytes, data, threads: int = 1) -> dict:
    """Compare the .tflite with the Keras model on prepared images (``data``, with labels)."""
    if data is None or len(data.images) == 0:
        log.warning("validation images of the run are not available; parity check skipped")
        return {"checked": False}
    keras_probs = model.predict(data.images.astype(np.float32), verbose=0, batch_size=64)
    clf = open_classifier(model_bytes, threads)
    lite_probs = np.stack([clf.predict_proba(x) for x in data.images])
    keras_top, lite_top = keras_probs.argmax(1), lite_probs.argmax(1)
    keras_right, lite_right = keras_top == data.label_ids, lite_top == data.label_ids
    keras_top1, tflite_top1 = float(keras_right.mean()), float(lite_right.mean())
    return {
        "checked": True,
        "split": "val",
        "n": int(len(data.images)),
        "top1_agreement": float((keras_top == lite_top).mean()),
        "keras_top1": keras_top1,
        "tflite_top1": tflite_top1,
        "drop_points": round(100.0 * (keras_top1 - tflite_top1), 4),
        # images the conversion got wrong that Keras got right, less the reverse
        "images_lost": int((keras_right & ~lite_right).sum() - (~keras_right & lite_right).sum()),
        "mean_abs_prob_diff": float(np.abs(keras_probs - lite_probs).mean()),
    }


def gate_refuses(parity: dict, max_drop_points: float) -> bool:
    """True when the converted model loses more than ``max_drop_points`` accuracy points and
    at least :data:`MIN_IMAGES_LOST` images (net) on the parity images."""
    return parity["drop_points"] > max_drop_points and parity["images_lost"] >= MIN_IMAGES_LOST


def kept_within_resolution(parity: dict, max_drop_points: float) -> bool:
    """True when the drop is above ``max_drop_points`` but too few images are lost for the
    gate to refuse (the sidecar and the model card say so)."""
    return (
        bool(parity.get("checked"))
        and "images_lost" in parity  # sidecars written before the count existed
        and parity["drop_points"] > max_drop_points
        and not gate_refuses(parity, max_drop_points)
    )


def parity_gate(parity: dict, max_drop_points: float, force: bool, mode: str) -> dict[str, Any]:
    """The gate's verdict for the sidecar; raises :class:`ExportError` when it refuses and
    ``force`` is not set (the caller has written nothing yet)."""
    gate: dict[str, Any] = {
        "max_drop_points": max_drop_points,
        "min_images_lost": MIN_IMAGES_LOST,
        "passed": True,
        "forced": False,
    }
    if not parity["checked"]:
        gate["passed"] = None
        return gate
    log.info(
        "parity on %d images: top-1 agreement %.3f, keras %.3f, tflite %.3f, mean |dp| %.4f",
        parity["n"],
        parity["top1_agreement"],
        parity["keras_top1"],
        parity["tflite_top1"],
        parity["mean_abs_prob_diff"],
    )
    if not gate_refuses(parity, max_drop_points):
        if kept_within_resolution(parity, max_drop_points):
            log.warning(
                "Parity: the %s model loses %.1f points, but that is %d image of %d: within "
                "the gate's resolution, kept",
                mode,
                parity["drop_points"],
                parity["images_lost"],
                parity["n"],
            )
        return gate
    gate["passed"] = False
    message = (
        f"the {mode} model loses {parity['drop_points']:.1f} accuracy points on the validation "
        f"split (keras {parity['keras_top1']:.1%} → tflite {parity['tflite_top1']:.1%}, top-1 "
        f"agreement {parity['top1_agreement']:.1%}, {parity['images_lost']} of {parity['n']} "
        f"images), more than 'max_drop_points' {max_drop_points:g}"
    )
    if not force:
        raise ExportError(
            f"Parity gate: {message}; nothing written. Use a calibration set from the target "
            "device, another quantization 'mode', or 'force' to keep it anyway",
            params=("max_drop_points", "mode", "force"),
        )
    gate["forced"] = True
    log.warning("Parity gate: %s; kept because of --force", message)
    return gate
