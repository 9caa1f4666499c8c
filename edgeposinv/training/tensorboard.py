"""TensorBoard logs of a training run, in ``RUN/logs/`` (``tensorboard --logdir RUN/logs``).

Written with ``tf.summary.write`` and the summary metadata TensorBoard's scalar, image and
text plugins read, so writing needs TensorFlow only; viewing them needs the
``tensorboard`` package, an optional install (``tf.summary.scalar`` itself lives in that
package, which TensorFlow 2.21 no longer pulls in). Per epoch, in ``logs/train`` and ``logs/validation`` so
TensorBoard draws both on one chart: ``epoch_loss`` and ``epoch_accuracy``; in
``logs/train`` also ``epoch_learning_rate`` (the rate at the end of the epoch) and
``epoch_phase`` (the index of the phase in ``config.json``'s ``train.phases``), with a
text note ``phase`` at each phase's first epoch. Once, at the start of a run,
``augmented_training_images``: the first images of the first training batch as the
network sees them. Only the chief writes them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

LOG_DIR = "logs"
N_IMAGES = 8


def _write(tag: str, value, plugin: str) -> None:
    """One summary value for TensorBoard plugin ``plugin`` (scalars, images, text)."""
    from tensorflow.core.framework import summary_pb2

    from edgeposinv.training.keras_api import tf

    metadata = summary_pb2.SummaryMetadata()
    metadata.plugin_data.plugin_name = plugin
    tf.summary.write(tag, value, metadata=metadata.SerializeToString())


def _scalar(tag: str, value: float) -> None:
    from edgeposinv.training.keras_api import tf

    _write(tag, tf.constant(float(value), tf.float32), "scalars")


def epoch_callback(run_dir: Path, state: dict, phase_names: list[str]):
    """A Keras callback that writes the row the checkpoint callback just appended to
    ``state["history"]`` (put it after that callback)."""
    from edgeposinv.training.keras_api import keras, tf

    writers = {
        side: tf.summary.create_file_writer(str(Path(run_dir) / LOG_DIR / side))
        for side in ("train", "validation")
    }

    class EpochSummaries(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            row = state["history"][-1]
            step = int(row["epoch"])
            with writers["train"].as_default(step=step):
                _scalar("epoch_loss", row.get("loss", np.nan))
                _scalar("epoch_accuracy", row.get("accuracy", np.nan))
                _scalar("epoch_learning_rate", row["lr"])
                _scalar("epoch_phase", phase_names.index(row["phase"]))
                earlier = [r["phase"] for r in state["history"][:-1]]
                if not earlier or earlier[-1] != row["phase"]:
                    _write("phase", tf.constant(f"{row['phase']} begins at epoch {step}"), "text")
            with writers["validation"].as_default(step=step):
                for key in ("loss", "accuracy"):
                    if f"val_{key}" in row:
                        _scalar(f"epoch_{key}", row[f"val_{key}"])
            for w in writers.values():
                w.flush()

        def on_train_end(self, logs=None):
            for w in writers.values():
                w.flush()

    return EpochSummaries()


def write_images(run_dir: Path, images) -> None:
    """``augmented_training_images`` (float 0..255 or uint8, ``(N, S, S, 3)``) at step 0."""
    from edgeposinv.training.keras_api import tf

    x = np.clip(np.round(np.asarray(images, np.float32)[:N_IMAGES]), 0, 255).astype(np.uint8)
    # The image plugin's layout: width, height, then one PNG per image.
    pngs = [tf.io.encode_png(im) for im in x]
    value = tf.stack([tf.constant(str(x.shape[2])), tf.constant(str(x.shape[1])), *pngs])
    writer = tf.summary.create_file_writer(str(Path(run_dir) / LOG_DIR / "train"))
    with writer.as_default(step=0):
        _write("augmented_training_images", value, "images")
    writer.close()


def write_first_images(
    run_dir: Path, images: np.ndarray, augment, seed: int, masks=None, tiles=None
) -> None:
    """Write the first :data:`N_IMAGES` images of epoch 1's first batch, augmented with the
    parameters training draws for them (:func:`edgeposinv.training.pipeline.epoch_params`)."""
    from edgeposinv.training.pipeline import apply_params_tf, epoch_params

    n_bg = 0 if tiles is None else len(tiles)
    order, params = epoch_params(augment, seed, 0, len(images), images.shape[1], n_bg)
    first = order[:N_IMAGES]
    if params is None:
        write_images(run_dir, images[first])
        return
    use_bg = masks is not None and tiles is not None
    out = apply_params_tf(
        images[first],
        params.subset(slice(0, len(first))),
        augment,
        masks[first] if use_bg else None,
        tiles if use_bg else None,
    )
    write_images(run_dir, out)


def read_scalars(log_dir: Path) -> dict[str, list[tuple[int, float]]]:
    """``{"train/epoch_loss": [(step, value), ...], ...}`` read back from the event files
    (tests, and scripts without TensorBoard)."""
    from edgeposinv.training.keras_api import tf

    out: dict[str, list[tuple[int, float]]] = {}
    for events in sorted(Path(log_dir).rglob("events.out.tfevents.*")):
        side = events.parent.name
        for record in tf.data.TFRecordDataset(str(events)):
            event = tf.compat.v1.Event.FromString(record.numpy())
            for value in event.summary.value:
                if value.metadata.plugin_data.plugin_name != "scalars":
                    continue
                number = float(tf.make_ndarray(value.tensor))
                out.setdefault(f"{side}/{value.tag}", []).append((int(event.step), number))
    return out
