"""Training on several devices or machines with TensorFlow's own ``tf.distribute``.

``--distribute`` picks the strategy: ``none`` (one device), ``mirrored``
(``MirroredStrategy`` over this machine's GPUs, or over its logical CPU devices when there
is no GPU and several were configured), ``multi-worker`` (``MultiWorkerMirroredStrategy``,
the cluster read from ``TF_CONFIG``) and ``auto`` (multi-worker when ``TF_CONFIG`` names
more than one task, mirrored when several GPUs are visible, otherwise none).

The global batch stays the one asked for; each replica takes ``batch / replicas``
consecutive images of every global batch, so the batches, their augmentation parameters
and the learning-rate schedule are those of a one-process run with the same seed
(:func:`replica_slots`). Only the chief (worker 0) writes the run folder; the other workers
write the same files into a temporary folder that is removed at the end
(:func:`worker_folder`): saving variables takes part in the cluster's collective ops, so
every worker has to save.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edgeposinv.errors import ConfigError, ModelError, ParameterError

log = logging.getLogger(__name__)

CHOICES = ("auto", "none", "mirrored", "multi-worker")


@dataclass(frozen=True)
class Placement:
    """Where this process sits: the resolved strategy, the cluster and the replicas."""

    strategy: str  # none | mirrored | multi-worker
    n_workers: int = 1
    worker_index: int = 0
    n_replicas: int = 1  # replicas in sync, all workers together
    devices: tuple[str, ...] = ()

    @property
    def is_chief(self) -> bool:
        return self.worker_index == 0

    @property
    def distributed(self) -> bool:
        return self.strategy != "none"

    def to_dict(self) -> dict:
        return {
            "strategy": self.strategy,
            "workers": self.n_workers,
            "replicas": self.n_replicas,
            "devices_per_worker": list(self.devices),
        }


@dataclass(frozen=True)
class Distribution:
    """The strategy this process trains under, where it sits, and whether it writes
    TensorBoard logs (the chief only)."""

    strategy: Any
    placement: Placement
    tensorboard: bool
    run_dir: Path  # the chief's run folder (named in error messages)

    @classmethod
    def create(cls, choice: str, batch_size: int, tensorboard: bool, run_dir: Path) -> Distribution:
        """Create the strategy (the first TensorFlow work of the process) and check that
        ``batch_size`` splits evenly over its replicas."""
        strategy, placement = make_strategy(choice)
        per_replica_batch(batch_size, placement.n_replicas)
        return cls(strategy, placement, tensorboard and placement.is_chief, Path(run_dir))

    def record(self) -> dict:
        """What ``config.json`` records about it."""
        return {"distribute": self.placement.to_dict(), "tensorboard": self.tensorboard}

    @contextlib.contextmanager
    def lost_worker_as_error(self) -> Iterator[None]:
        """Turn TensorFlow's error for a worker that died mid-step into one line that says
        how to continue the job."""
        lost = lost_worker_errors() if self.placement.distributed else ()
        try:
            yield
        except lost as e:
            text = re.sub(r"\{\{.*?\}\}", "", str(e)).strip()  # drop TF's node names
            reason = text.splitlines()[0] if text else type(e).__name__
            raise ModelError(
                f"A worker of the {self.placement.n_workers}-worker job was lost ({reason}); "
                f"start every worker again with 'edgeposinv train --resume {self.run_dir}' "
                "(the job continues from its last completed epoch)"
            ) from None


def read_tf_config() -> dict | None:
    """``TF_CONFIG`` parsed, or ``None`` when unset; a clear error when malformed."""
    raw = os.environ.get("TF_CONFIG", "").strip()
    if not raw:
        return None
    try:
        config = json.loads(raw)
    except json.JSONDecodeError as e:
        raise ConfigError(
            f"The TF_CONFIG environment variable is not valid JSON ({e.msg} at character {e.pos}); "
            'expected {"cluster": {"worker": ["host:port", ...]}, "task": {"type": "worker", "index": 0}}'
        ) from None
    cluster, task = config.get("cluster"), config.get("task")
    if not isinstance(cluster, dict) or not isinstance(task, dict):
        raise ConfigError(
            "TF_CONFIG needs a 'cluster' object and a 'task' object; "
            f"got keys {sorted(config) if isinstance(config, dict) else type(config).__name__}"
        )
    kind, index = task.get("type"), task.get("index")
    if kind not in ("chief", "worker"):
        raise ConfigError(
            f"TF_CONFIG task type must be 'chief' or 'worker' for training. Got {kind!r}."
        )
    hosts = cluster.get(kind)
    if not isinstance(index, int) or not isinstance(hosts, list) or not 0 <= index < len(hosts):
        raise ConfigError(
            f"TF_CONFIG task index {index!r} does not name one of the {kind} addresses "
            f"{hosts!r}; give each process its own index 0..{len(hosts or []) - 1}"
        )
    return config


def _cluster_tasks(config: dict) -> list[tuple[str, int]]:
    """Chief first, then the workers: the order in which TensorFlow numbers the workers."""
    cluster = config["cluster"]
    return [("chief", i) for i in range(len(cluster.get("chief", [])))] + [
        ("worker", i) for i in range(len(cluster.get("worker", [])))
    ]


def resolve(choice: str) -> str:
    """The strategy ``choice`` stands for on this machine (``auto`` decided here)."""
    if choice not in CHOICES:
        raise ParameterError("distribute", choice, f"must be one of: {', '.join(CHOICES)}")
    tf_config = read_tf_config()
    if choice == "multi-worker" and tf_config is None:
        raise ParameterError(
            "distribute",
            choice,
            "needs the TF_CONFIG environment variable naming the cluster and this process's "
            "task, which is not set",
            fix="set TF_CONFIG on every worker (docs/distributed.md) or use 'auto'",
        )
    if choice != "auto":
        return choice
    if tf_config is not None and len(_cluster_tasks(tf_config)) > 1:
        return "multi-worker"
    from edgeposinv.training.keras_api import tf

    return "mirrored" if len(tf.config.list_logical_devices("GPU")) > 1 else "none"


# One strategy per device set and process: a second MirroredStrategy over the same devices
# would number its collective operations from the start again and collide with the first's.
_STRATEGIES: dict[tuple, Any] = {}


def make_strategy(choice: str):
    """``(strategy, placement)`` for ``--distribute choice``, created once per process and
    reused by later runs in it. Call it before any other TensorFlow work in the process:
    ``MultiWorkerMirroredStrategy`` configures the runtime's collective ops, which only
    works at program start."""
    name = resolve(choice)  # before importing TensorFlow: a bad TF_CONFIG fails at once
    from edgeposinv.training.keras_api import tf

    if name == "none":
        strategy = tf.distribute.get_strategy()
        return strategy, Placement("none", devices=(_first_device(tf),))
    if name == "mirrored":
        gpus = tf.config.list_logical_devices("GPU")
        devices = [d.name for d in gpus] or [d.name for d in tf.config.list_logical_devices("CPU")]
        key: tuple = ("mirrored", tuple(devices))
        if key not in _STRATEGIES:
            _STRATEGIES[key] = tf.distribute.MirroredStrategy(devices=devices)
        strategy = _STRATEGIES[key]
        if len(devices) == 1:
            log.warning(
                "--distribute mirrored found one device (%s); nothing to spread", devices[0]
            )
        return strategy, Placement("mirrored", 1, 0, strategy.num_replicas_in_sync, tuple(devices))
    config = read_tf_config()
    if config is None:  # resolve() only picks multi-worker with a TF_CONFIG
        raise ParameterError("distribute", name, "needs the TF_CONFIG environment variable")
    options = tf.distribute.experimental.CommunicationOptions(
        implementation=tf.distribute.experimental.CommunicationImplementation.AUTO
    )
    key = ("multi-worker", json.dumps(config, sort_keys=True))
    try:
        if key not in _STRATEGIES:
            _STRATEGIES[key] = tf.distribute.MultiWorkerMirroredStrategy(
                communication_options=options
            )
        strategy = _STRATEGIES[key]
    except RuntimeError as e:
        raise ConfigError(
            f"MultiWorkerMirroredStrategy could not start ({str(e).splitlines()[0]}); "
            "it has to be created before any other TensorFlow work in the process"
        ) from None
    tasks = _cluster_tasks(config)
    me = (config["task"]["type"], config["task"]["index"])
    placement = Placement(
        "multi-worker",
        len(tasks),
        tasks.index(me),
        strategy.num_replicas_in_sync,
        tuple(strategy.extended.worker_devices),
    )
    log.info(
        "multi-worker training: worker %d of %d (%s), %d replicas in sync",
        placement.worker_index,
        placement.n_workers,
        "chief" if placement.is_chief else "not the chief",
        placement.n_replicas,
    )
    return strategy, placement


def _first_device(tf) -> str:
    gpus = tf.config.list_logical_devices("GPU")
    return (gpus or tf.config.list_logical_devices("CPU"))[0].name


def per_replica_batch(batch_size: int, n_replicas: int) -> int:
    """``batch_size / n_replicas``, refused when it does not divide evenly."""
    if batch_size % n_replicas:
        raise ParameterError(
            "batch_size",
            batch_size,
            f"must be a multiple of the {n_replicas} replicas (the global batch is kept, and "
            "each replica takes an equal share of it)",
            owner="TrainConfig",
            fix=f"use a multiple of {n_replicas}",
        )
    return batch_size // n_replicas


def replica_slots(
    n_slots: int, batch_size: int, n_replicas: int, pipeline: int = 0, n_pipelines: int = 1
) -> np.ndarray:
    """The slots (positions in the one-process stream of images) that input pipeline
    ``pipeline`` of ``n_pipelines`` feeds, in the order it must yield them.

    Global batch ``g`` is slots ``g*B .. g*B+B-1``; replica ``k`` takes its ``k``-th share of
    ``B / n_replicas`` consecutive slots. A pipeline serves ``n_replicas / n_pipelines``
    consecutive replicas and yields their shares one after the other for every global
    batch, which is how ``distribute_datasets_from_function`` hands elements to replicas.
    """
    per_replica = per_replica_batch(batch_size, n_replicas)
    if n_replicas % n_pipelines:
        raise ConfigError(
            f"{n_replicas} replicas do not split evenly over {n_pipelines} workers; "
            "give every worker the same number of devices"
        )
    local = n_replicas // n_pipelines
    steps = n_slots // batch_size
    grid = np.arange(steps * batch_size).reshape(steps, n_replicas, per_replica)
    return grid[:, pipeline * local : (pipeline + 1) * local].reshape(-1)


def distributed_dataset(strategy, placement: Placement, make, class_weight: dict | None = None):
    """The training input for ``model.fit``: ``make(n_replicas, pipeline, n_pipelines)``
    builds one worker's ``tf.data`` pipeline of per-replica batches (augmentation runs
    there, on that worker's share); with ``class_weight`` each element carries sample
    weights (Keras cannot add them to a distributed dataset itself)."""
    from edgeposinv.training.keras_api import tf

    weights = None
    if class_weight:
        weights = tf.constant([class_weight[i] for i in range(len(class_weight))], tf.float32)

    def dataset_fn(context: tf.distribute.InputContext):
        ds = make(
            context.num_replicas_in_sync, context.input_pipeline_id, context.num_input_pipelines
        )
        if weights is not None:
            ds = ds.map(lambda x, y: (x, y, tf.gather(weights, tf.argmax(y, axis=-1))))
        return ds

    if not placement.distributed:
        return dataset_fn(tf.distribute.InputContext(1, 0, 1))
    options = tf.distribute.InputOptions(experimental_fetch_to_device=True)
    return strategy.distribute_datasets_from_function(dataset_fn, options)


def shard_by_data(dataset):
    """``dataset`` split between workers element by element (in-memory arrays have no files
    to split by; saying so up front spares TensorFlow's fallback warning)."""
    from edgeposinv.training.keras_api import tf

    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return dataset.with_options(options)


@contextlib.contextmanager
def worker_folder(run_dir: Path, placement: Placement) -> Iterator[Path]:
    """The folder this process writes the run into: ``run_dir`` on the chief, a temporary
    folder (removed on exit, whatever happens) on every other worker. Its name is fixed by
    the run and the worker, so one left behind by a killed worker is cleared on resume."""
    if placement.is_chief:
        yield run_dir
        return
    key = hashlib.sha1(str(Path(run_dir).resolve()).encode()).hexdigest()[:12]
    tmp = Path(tempfile.gettempdir()) / f"edgeposinv-{key}-worker{placement.worker_index}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        yield tmp / run_dir.name
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def copy_checkpoint(run_dir: Path, into: Path) -> None:
    """Give a non-chief worker the chief's run files and last epoch checkpoint to resume
    from (the run folder has to be readable by every worker: a shared volume)."""
    shutil.copytree(run_dir, into, dirs_exist_ok=True, ignore=shutil.ignore_patterns("logs"))


def lost_worker_errors() -> tuple[type[Exception], ...]:
    """What TensorFlow raises on the other workers when one of them dies mid-step."""
    from edgeposinv.training.keras_api import tf

    return (
        tf.errors.UnavailableError,
        tf.errors.AbortedError,
        tf.errors.CancelledError,
        tf.errors.DeadlineExceededError,
    )


def weights_digest(model) -> str:
    """SHA-256 of every weight of ``model`` in order: equal on all workers of a job."""
    h = hashlib.sha256()
    for w in model.get_weights():
        h.update(np.ascontiguousarray(w).tobytes())
    return h.hexdigest()
