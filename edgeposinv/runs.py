"""The run folder written by ``train`` and read by ``export`` (no TensorFlow needed to read it).

Layout::

    RUN/model.keras     the trained tf_keras model (normalisation inside)
    RUN/labels.txt      one label per line, in output order
    RUN/config.json     resolved TrainConfig, input contract, dataset, versions
    RUN/split.json      the exact train/validation files (relative to the dataset)
    RUN/history.csv     per-epoch loss and accuracy
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from edgeposinv.errors import ModelError
from edgeposinv.preprocess import InputContract

MODEL_FILE = "model.keras"
LABELS_FILE = "labels.txt"
CONFIG_FILE = "config.json"
SPLIT_FILE = "split.json"
HISTORY_FILE = "history.csv"


@dataclass(frozen=True)
class Run:
    root: Path
    labels: tuple[str, ...]
    config: dict
    split: dict

    @property
    def model_path(self) -> Path:
        return self.root / MODEL_FILE

    @property
    def contract(self) -> InputContract:
        return InputContract.from_dict(self.config["input"])

    @property
    def data_dir(self) -> Path:
        return Path(self.config["dataset"]["path"])

    def split_paths(self, side: str) -> list[Path]:
        return [self.data_dir / rel for rel in self.split[side]]


def read_run(root: str | os.PathLike) -> Run:
    root = Path(root)
    missing = [n for n in (MODEL_FILE, LABELS_FILE, CONFIG_FILE, SPLIT_FILE) if not (root / n).is_file()]
    if missing:
        raise ModelError(
            f"{root} is not a training run folder (missing {', '.join(missing)}); "
            "pass the --out folder of 'edgeposinv train'"
        )
    labels = tuple(line for line in (root / LABELS_FILE).read_text("utf-8").splitlines() if line)
    config = json.loads((root / CONFIG_FILE).read_text("utf-8"))
    split = json.loads((root / SPLIT_FILE).read_text("utf-8"))
    return Run(root, labels, config, split)


def load_keras_model(run: Run):
    from edgeposinv._keras import keras

    return keras.models.load_model(run.model_path, compile=False)
