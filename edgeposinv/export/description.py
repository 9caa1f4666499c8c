"""What an exported model says about itself, embedded in the .tflite file.

:func:`model_description` is the ``edgeposinv.model`` JSON entry the project's runtimes
read (labels, input contract, quantization; no timestamps or paths, so identical inputs
give identical bytes); :func:`standard_metadata` is the same facts as standard TensorFlow
Lite Metadata with a label file, for third-party consumers; :func:`embed_metadata` writes
both. :func:`embed_fingerprints` adds the training split's compact hashes (optional), so
``evaluate`` can tell a test set that overlaps the training data.
"""

from __future__ import annotations

from edgeposinv import __version__
from edgeposinv.data.duplicates import FINGERPRINT_BITS, centre_hashes, fingerprint_bytes
from edgeposinv.export.quantize import QuantSpec
from edgeposinv.tflite.metadata import (
    CONTRACT_NAME,
    CONTRACT_SCHEMA,
    FINGERPRINTS_NAME,
    canonical_json,
    write_entries,
)
from edgeposinv.tflite.std_metadata import (
    LABELS_FILE,
    METADATA_NAME,
    StdMetadata,
    append_associated_files,
    build_metadata,
)
from edgeposinv.training.runs import Run

__all__ = ["embed_fingerprints", "embed_metadata", "model_description", "standard_metadata"]


def model_description(run: Run, spec: QuantSpec, open_set=None) -> dict:
    """The facts embedded in the model (no timestamps or paths: identical inputs → identical bytes)."""
    extra = {} if open_set is None else {"open_set": open_set.to_dict()}
    return {
        **extra,
        "schema": CONTRACT_SCHEMA,
        "task": "image_classification",
        "labels": list(run.labels),
        "input": run.contract.to_dict(),
        "quantization": spec.mode,
        "io_dtype": spec.io,
        "arch": run.config["train"]["arch"],
        "generator": f"edgeposinv {__version__}",
    }


def standard_metadata(description: dict) -> StdMetadata:
    """Standard TFLite Metadata for an edgeposinv model description.

    The model takes raw pixels and normalises inside itself, so the normalisation a
    consumer must apply before the input tensor is the identity (mean 0, std 1); the
    in-model normalisation is stated in the input description.
    """
    contract = description["input"]
    size = contract["image_size_px"]
    labels = description["labels"]
    inside = contract["normalization_mean"], contract["normalization_std"]
    return StdMetadata(
        name=f"edgeposinv {description['arch']} image classifier",
        description=(
            f"Classifies an RGB photo into {len(labels)} classes ({', '.join(labels)}). "
            f"Quantization: {description['quantization']} (input/output {description['io_dtype']})."
        ),
        version=description["schema"],
        author=description["generator"],
        image_size_px=size,
        color_space=contract["color_order"],
        mean=(0.0, 0.0, 0.0),
        std=(1.0, 1.0, 1.0),
        input_min=float(contract["pixel_range"][0]),
        input_max=float(contract["pixel_range"][1]),
        input_description=(
            f"RGB pixels {contract['pixel_range'][0]}..{contract['pixel_range'][1]}, {size}x{size}: "
            f"orientation {contract['orientation']}, {contract['crop']} crop, resize {contract['resize_down']} "
            f"when shrinking / {contract['resize_up']} when enlarging (policy v{contract['policy_version']}). "
            f"The model normalises inside: (x - {inside[0][0]}) / {inside[1][0]}; feed raw pixel values."
        ),
        output_description=f"Probabilities of the {len(labels)} classes, in the order of {LABELS_FILE}.",
        labels_file=LABELS_FILE,
        score_threshold=(description.get("open_set") or {}).get("score_threshold"),
    )


def embed_metadata(converted: bytes, description: dict) -> bytes:
    """Add the edgeposinv JSON entry, standard TFLITE_METADATA and the labels zip."""
    std = build_metadata(standard_metadata(description))
    with_entries = write_entries(
        converted, {CONTRACT_NAME: canonical_json(description), METADATA_NAME: std}
    )
    labels = ("\n".join(description["labels"]) + "\n").encode("utf-8")
    return append_associated_files(with_entries, {LABELS_FILE: labels})


def embed_fingerprints(model_bytes: bytes, run: Run) -> tuple[bytes, dict]:
    """Add the training split's centre hashes as their own metadata entry."""
    paths = [p for p in run.split_paths("train") if p.is_file()]
    data = fingerprint_bytes(centre_hashes(paths))
    info = {
        "entry": FINGERPRINTS_NAME,
        "n_images": len(paths),
        "n_hashes": len(data) // 8,
        "bytes": len(data),
        "hash": "pHash (64 bit) of the 64 px centre window of the 72 px contract crop",
        "max_bits": FINGERPRINT_BITS,
    }
    return write_entries(model_bytes, {FINGERPRINTS_NAME: data}), info
