"""Training: a dataset folder in, a run folder out (see :mod:`edgeposinv.training.runs`).

Pretrained backbones train in two phases — ``head`` (backbone frozen) then ``fine_tune``
(the top of the backbone unfrozen at a lower learning rate, BatchNormalization kept in
inference mode); from-scratch models train in one ``train`` phase; ``--qat`` adds a
``qat`` phase of quantization-aware fine-tuning. Each phase uses warm-up + cosine decay.
Every epoch saves a resumable state (:mod:`edgeposinv.training.checkpoints`) and, unless
turned off, TensorBoard scalars (:mod:`edgeposinv.training.tensorboard`). ``distribute``
spreads training over devices or machines with ``tf.distribute``
(:mod:`edgeposinv.training.distribute`).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from edgeposinv.errors import DatasetError, ModelError
from edgeposinv.training.config import OPTIMIZERS, TrainConfig, TrainResult, config_dict
from edgeposinv.training.distribute import Distribution
from edgeposinv.training.prepare import (
    Prepared,
    class_weights,
    prepare_data,
)
from edgeposinv.transforms.augment import AugmentConfig
from edgeposinv.util.files import check_can_write

__all__ = [
    "OPTIMIZERS",
    "QAT_CALIBRATION_IMAGES",
    "TrainConfig",
    "TrainResult",
    "config_dict",
    "resume",
    "train",
]

log = logging.getLogger(__name__)

QAT_CALIBRATION_IMAGES = 512  # training images whose float activations set the QAT ranges


def train(
    data_dir: str | os.PathLike | Sequence[str | os.PathLike],
    run_dir: str | os.PathLike,
    config: TrainConfig = TrainConfig(),
    overwrite: bool = False,
    show_progress: bool = True,
    distribute: str = "auto",
    tensorboard: bool = True,
) -> TrainResult:
    """Train ``config.arch`` on the images of ``data_dir`` — one dataset folder or several
    (:mod:`edgeposinv.data.folders`) — and write the run to ``run_dir`` (``distribute``: see
    :mod:`edgeposinv.training.distribute`; ``tensorboard``: write ``RUN/logs/``)."""
    from edgeposinv.data.folders import as_paths
    from edgeposinv.training.guard import guarded_new_run
    from edgeposinv.training.runs import write_run_start
    from edgeposinv.util.files import SetAside, check_not_in_dataset

    data_dirs, run_dir = as_paths(data_dir), Path(run_dir)
    dist = Distribution.create(distribute, config.batch_size, tensorboard, run_dir)
    if not dist.placement.is_chief:
        return _train_other_worker(data_dirs, run_dir, config, dist, show_progress)
    check_can_write(run_dir, overwrite)
    check_not_in_dataset(run_dir, data_dirs, is_dir=True, param="run_dir")
    SetAside.check_free(run_dir, "run")
    if len(data_dirs) > 1:  # one weight per folder: checked before decoding anything
        from edgeposinv.data.folders import folder_shares

        folder_shares(config.folder_weights, [1] * len(data_dirs))
    config = replace(  # absolute folders, so that --resume works from anywhere
        config,
        val_dirs=tuple(str(Path(p).resolve()) for p in config.val_dirs),
        val_from=str(Path(config.val_from).resolve()) if config.val_from else None,
    )
    augment = config.augment_settings()
    if config.adapt_dir:
        from edgeposinv.training.adapt import check_adapt_dir

        check_adapt_dir(config.adapt_dir)
    prepared = prepare_data(data_dirs, config, augment, show_progress)

    def work() -> TrainResult:
        write_run_start(run_dir, config, augment, prepared, dist.record())
        return _fit(run_dir, config, augment, prepared, None, dist)

    # An existing run (replaced only with overwrite) is set aside until the new run can
    # be resumed, and given back on any failure or signal before that (training.guard).
    return guarded_new_run(run_dir, work)


def resume(
    run_dir: str | os.PathLike,
    show_progress: bool = True,
    distribute: str = "auto",
    tensorboard: bool | None = None,
) -> TrainResult:
    """Continue a killed run from its last completed epoch (same epochs, same data order,
    whatever ``distribute`` it runs under now; ``tensorboard`` ``None``: as the run began)."""
    from edgeposinv.training.checkpoints import read_state
    from edgeposinv.training.runs import read_run_config

    run_dir = Path(run_dir)
    resolved = read_run_config(run_dir)
    if tensorboard is None:
        tensorboard = bool(resolved.get("tensorboard", True))
    batch_size = TrainConfig.from_dict(resolved["train"]).batch_size
    dist = Distribution.create(distribute, batch_size, tensorboard, run_dir)
    state = read_state(run_dir)
    if resolved.get("status") == "complete":
        raise ModelError(f"{run_dir} already finished training; nothing to resume")
    if state is None:
        from edgeposinv.util.files import aside_path

        left = aside_path(run_dir)
        raise ModelError(
            f"{run_dir} has no saved epoch to resume from (killed before the first epoch "
            "ended); start it again"
            + (f"; {left} holds the run it replaced" if left.is_dir() else "")
        )
    config = TrainConfig.from_dict(resolved["train"])
    augment = AugmentConfig.from_dict(resolved["augment"], source=f"{run_dir}/config.json")
    paths = resolved["dataset"].get("paths", [resolved["dataset"]["path"]])
    paths = paths[: len(paths) - len(config.val_dirs)]  # validation folders come last
    prepared = prepare_data([Path(p) for p in paths], config, augment, show_progress)
    if prepared.split_record("train") != resolved["_split_train"]:
        raise DatasetError(
            f"The dataset {resolved['dataset']['path']} changed since {run_dir} started (its training split differs); "
            "restore the images or start a new run"
        )
    log.info("resuming %s after epoch %d", run_dir, state["epoch"])
    from edgeposinv.training.guard import guarded_resume

    if not dist.placement.is_chief:
        from edgeposinv.training.distribute import copy_checkpoint, worker_folder

        with worker_folder(run_dir, dist.placement) as own:
            copy_checkpoint(run_dir, own)
            result = _fit(own, config, augment, prepared, state, dist)
        return replace(result, run_dir=run_dir)
    if dist.placement.distributed:
        from edgeposinv.training.runs import record_resume

        record_resume(run_dir, state["epoch"], dist.record())
    return guarded_resume(run_dir, lambda: _fit(run_dir, config, augment, prepared, state, dist))


def _train_other_worker(
    data_dirs: list[Path],
    run_dir: Path,
    config: TrainConfig,
    dist: Distribution,
    show_progress: bool,
) -> TrainResult:
    """A worker other than the chief: the same training, written to a temporary folder."""
    from edgeposinv.training.distribute import worker_folder
    from edgeposinv.training.runs import write_run_start

    augment = config.augment_settings()
    prepared = prepare_data(data_dirs, config, augment, show_progress)
    with worker_folder(run_dir, dist.placement) as own:
        write_run_start(own, config, augment, prepared, dist.record())
        return replace(_fit(own, config, augment, prepared, None, dist), run_dir=run_dir)


def _fit(
    run_dir: Path,
    config: TrainConfig,
    augment: AugmentConfig,
    prep: Prepared,
    state: dict | None,
    dist: Distribution,
) -> TrainResult:
    """Build and train the model under ``dist``'s strategy (variables created in its scope)."""
    with dist.lost_worker_as_error(), dist.strategy.scope():
        return _fit_phases(run_dir, config, augment, prep, state, dist)


def _fit_phases(
    run_dir: Path,
    config: TrainConfig,
    augment: AugmentConfig,
    prep: Prepared,
    state: dict | None,
    dist: Distribution,
) -> TrainResult:
    from edgeposinv.training import checkpoints, distribute
    from edgeposinv.training.keras_api import keras
    from edgeposinv.training.models import build_model, set_trainable
    from edgeposinv.training.pipeline import eval_dataset, training_dataset
    from edgeposinv.training.runs import write_run_end
    from edgeposinv.training.schedule import WarmupCosine, make_optimizer

    started = time.monotonic()
    n_classes = len(prep.labels)
    x_train, y_train, f_train = prep.train_arrays()
    x_val, y_val = prep.val_arrays()
    start_epoch = state["epoch"] if state else 0
    state = state or checkpoints.new_state()
    keras.utils.set_random_seed(config.seed + start_epoch)
    model = build_model(
        config.arch,
        config.image_size_px,
        n_classes,
        weights=config.resolved_weights,
        alpha=config.alpha,
        minimalistic=config.minimalistic,
        dropout=config.dropout,
        antialias=config.antialias,
    )
    log.info(
        "training %s on %d images (%d classes), validating on %d; phases: %s",
        config.arch,
        len(x_train),
        n_classes,
        len(x_val),
        ", ".join(f"{name} {a + 1}-{b}" for name, a, b, _ in config.phases()),
    )
    val_ds = None
    if len(x_val):
        val_ds = eval_dataset(x_val, y_val, config.batch_size, n_classes)
        if dist.placement.distributed:
            val_ds = distribute.shard_by_data(val_ds)
    if dist.tensorboard and start_epoch == 0:
        from edgeposinv.training.tensorboard import write_first_images

        write_first_images(run_dir, x_train, augment, config.seed, prep.masks, prep.tiles)
    loss = keras.losses.CategoricalCrossentropy(label_smoothing=config.label_smoothing)
    class_weight = class_weights(y_train, n_classes) if config.class_weight == "balanced" else None
    phases = config.phases()
    total = phases[-1][2]
    steps = max(1, len(x_train) // config.batch_size)
    resumed_from, restored = start_epoch, False
    for name, first, end, peak_lr in phases:
        if end <= start_epoch or (state["stopped"] and name != "qat"):
            continue
        resuming_here = resumed_from > 0 and not restored
        if name == "qat":
            from edgeposinv.training.qat import calibrate_ranges, quantize_model

            if start_epoch <= first and not checkpoints.load_best(model, run_dir):
                if resuming_here:
                    checkpoints.restore(run_dir, state, model, None)
            float_model, model = model, quantize_model(model)
            if start_epoch <= first:
                calibrate_ranges(
                    model, float_model, x_train[:QAT_CALIBRATION_IMAGES], config.batch_size
                )
        else:
            set_trainable(model, "all" if name == "train" else name, config.fine_tune_fraction)
        schedule = WarmupCosine(
            peak_lr, (end - first) * steps, min(config.warmup_epochs, end - first) * steps
        )
        optimizer = make_optimizer(config.optimizer, schedule, config.weight_decay)
        model.compile(optimizer=optimizer, loss=loss, metrics=["accuracy"])
        if resuming_here and (first < start_epoch or name != "qat"):
            # Mid-phase: model and optimizer; at a phase boundary: the model only.
            checkpoints.restore(run_dir, state, model, optimizer if first < start_epoch else None)
        restored = True
        begin = max(first, start_epoch)
        train_ds = distribute.distributed_dataset(
            dist.strategy,
            dist.placement,
            lambda replicas, pipeline, pipelines, end=end, begin=begin: training_dataset(
                x_train,
                y_train,
                augment,
                end,
                config.batch_size,
                config.seed,
                start_epoch=begin,
                num_classes=n_classes,
                masks=prep.masks,
                tiles=prep.tiles,
                folder_ids=None if prep.folder_shares is None else f_train,
                folder_shares=prep.folder_shares,
                replicas=replicas,
                pipeline=(pipeline, pipelines),
            )[0],
            class_weight if dist.placement.distributed else None,
        )
        callbacks = [
            checkpoints.make_callback(
                run_dir,
                state,
                name,
                total,
                config.early_stopping_patience,
                name != "qat",
                optimizer,
            )
        ]
        if dist.tensorboard:
            from edgeposinv.training.tensorboard import epoch_callback

            callbacks.append(epoch_callback(run_dir, state, [p[0] for p in phases]))
        model.fit(
            train_ds,
            epochs=end,
            initial_epoch=begin,
            steps_per_epoch=steps,
            validation_data=val_ds,
            class_weight=None if dist.placement.distributed else class_weight,
            verbose=0,
            callbacks=callbacks,
        )
        start_epoch = max(start_epoch, state["epoch"])
    if config.qat:
        from edgeposinv.training.qat import fix_input_range

        fix_input_range(model)
    else:
        checkpoints.load_best(model, run_dir)
    adapted = None
    if config.adapt_dir:
        from edgeposinv.training.adapt import adapt_from_folder

        adapted = adapt_from_folder(model, config.adapt_dir, config.image_size_px, config.seed)
    model.compile(loss=loss, metrics=["accuracy"])
    val_loss = val_accuracy = float("nan")
    if val_ds is not None:
        val_loss, val_accuracy = (float(v) for v in model.evaluate(val_ds, verbose=0))
    result: dict[str, object] = {
        "val_accuracy": None if val_ds is None else val_accuracy,
        "val_loss": None if val_ds is None else val_loss,
        "validation": config.validation,
        "n_train": int(len(prep.train_idx)),
        "n_val": int(len(prep.val_idx)),
        "n_unknown_train": 0 if prep.unknown is None else int(len(prep.unknown.train_idx)),
        "n_unknown_val": 0 if prep.unknown is None else int(len(prep.unknown.val_idx)),
        "epochs_run": int(state["epoch"]),
        "stopped_early": bool(state["stopped"]),
    }
    digest = distribute.weights_digest(model) if dist.placement.distributed else None
    if digest:
        result["weights_sha256"] = digest
    if adapted is not None:
        result["adapt"] = adapted  # val figures above are after adapting
    write_run_end(run_dir, model, state["history"], result, qat=config.qat)
    checkpoints.remove(run_dir)
    seconds = time.monotonic() - started
    log.info("wrote %s (val accuracy %.3f, %.0fs)", run_dir, val_accuracy, seconds)
    return TrainResult(
        run_dir,
        prep.labels,
        val_accuracy,
        len(prep.train_idx),
        len(prep.val_idx),
        seconds,
        int(state["epoch"]),
        digest,
        dist.placement.worker_index,
        dist.placement.n_workers,
    )
