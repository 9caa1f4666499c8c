"""Where the published-vs-wild gap comes from — no TensorFlow.

Three parts, written into ``report.json`` as ``diagnosis`` and into ``report.html``:

- **geometry**: the reference (published) images are moved, scaled and rotated at random
  within a fixed range and classified again. The accuracy they lose is how much of the
  measured wild gap geometry alone could explain; the rest is appearance (backgrounds,
  light, hands, cameras).
- **occlusion maps** (:mod:`edgeposinv.evaluation.occlusion`) for a sample of correctly
  classified reference images and of the most confident wild mistakes: where the model
  looks.
- **a verdict** in one or two sentences.
"""

from __future__ import annotations

import base64
import html
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from edgeposinv.errors import ConfigError
from edgeposinv.evaluation.metrics import difference_interval, wilson_interval
from edgeposinv.evaluation.occlusion import OcclusionConfig, centre_share, occlusion_map, overlay
from edgeposinv.tflite.runtime import TFLiteClassifier
from edgeposinv.transforms.params import apply_params, fixed_params

# A geometry share at or above this makes the verdict "geometry"; below it, "appearance".
GEOMETRY_SHARE_VERDICT = 0.5


@dataclass(frozen=True)
class GeometryCheckConfig:
    """Random views of each reference image: shift, scale and rotation drawn uniformly.

    The default range is the position augmentation's (``default`` preset) geometry, a
    generous guess of how differently a device frames an object.
    """

    views_per_image: int = 6
    max_shift_frac: float = 0.2
    scale_range: tuple[float, float] = (0.6, 1.0)
    max_rotation_deg: float = 25.0
    max_images: int = 200
    seed: int = 0
    fill_mode: str = "nearest"

    def __post_init__(self) -> None:
        if self.views_per_image < 1 or self.max_images < 1:
            raise ConfigError(
                "'views_per_image' and 'max_images' of GeometryCheckConfig must be at least 1. "
                f"Got {self.views_per_image} and {self.max_images}."
            )
        lo, hi = self.scale_range
        if not 0.0 < lo <= hi:
            raise ConfigError(
                f"'scale_range' of GeometryCheckConfig must be 0 < lo <= hi. Got {self.scale_range}."
            )

    def views(self, size_px: int, index: int) -> list:
        rng = np.random.default_rng([self.seed, index])
        out = []
        for _ in range(self.views_per_image):
            out.append(
                fixed_params(
                    size_px,
                    shift_frac=tuple(rng.uniform(-self.max_shift_frac, self.max_shift_frac, 2)),
                    scale=float(rng.uniform(*self.scale_range)),
                    rotation_deg=float(rng.uniform(-self.max_rotation_deg, self.max_rotation_deg)),
                )
            )
        return out


@dataclass
class GeometryTask:
    """Top-1 class ids of the random views of one image (a :mod:`tflite.parallel` task)."""

    config: GeometryCheckConfig

    def __call__(self, clf: TFLiteClassifier, pixels: np.ndarray, index: int) -> np.ndarray:
        views = [
            apply_params(pixels, p, 0, fill_mode=self.config.fill_mode)
            for p in self.config.views(pixels.shape[0], index)
        ]
        return np.array([int(clf.predict_raw(v).argmax()) for v in views], np.int64)


def _even_sample(n: int, k: int) -> np.ndarray:
    return (
        np.unique(np.linspace(0, n - 1, min(n, k)).round().astype(int)) if n else np.zeros(0, int)
    )


def geometry_summary(
    config: GeometryCheckConfig, top1: np.ndarray, y_true: np.ndarray, plain_correct: np.ndarray
) -> dict:
    """Accuracy of the random views against the same images unmoved; the drop with an interval.

    Views of one image are not independent, so intervals count images, not views.
    """
    n = int(len(y_true))
    per_image = (top1 == y_true[:, None]).mean(axis=1)
    acc = float(per_image.mean()) if n else 0.0
    plain = float(plain_correct.mean()) if n else 0.0
    k_views, k_plain = round(acc * n), int(plain_correct.sum())
    lo, hi = difference_interval(k_plain, n, k_views, n) if n else (0.0, 0.0)
    return {
        "n": n,
        "views_per_image": config.views_per_image,
        "max_shift_frac": config.max_shift_frac,
        "scale_range": list(config.scale_range),
        "max_rotation_deg": config.max_rotation_deg,
        "seed": config.seed,
        "plain_top1": plain,
        "top1": acc,
        "top1_ci95": list(wilson_interval(k_views, n)),
        "drop": plain - acc,
        "drop_ci95": [lo, hi],
    }


def verdict(
    reference: str, wild: str, gap: dict, geometry: dict, occlusion: dict
) -> tuple[str, str]:
    """``(cause, sentence)``: cause is ``none``, ``geometry`` or ``appearance``."""
    lost = -gap["difference"]
    if not gap["significant"] or lost <= 0:
        return "none", (
            f"No established gap: '{wild}' is {100 * gap['difference']:+.1f} points from '{reference}' "
            f"(95% CI {100 * gap['difference_ci95'][0]:+.1f} … {100 * gap['difference_ci95'][1]:+.1f}); "
            "collect more wild images before changing the recipe."
        )
    share = geometry["explained_share"]
    looks = ""
    ref_centre = occlusion.get("reference_centre_share")
    if ref_centre is not None and ref_centre < 0.35:
        looks = (
            f" On '{reference}' the model looks mostly away from the centre of the frame "
            f"({ref_centre:.0%} of its sensitivity in the central quarter): the backdrop, not the object?"
        )
    if share >= GEOMETRY_SHARE_VERDICT:
        return "geometry", (
            f"Mostly position: moving, scaling and rotating the '{reference}' images alone loses "
            f"{100 * geometry['drop']:.1f} of the {100 * lost:.1f} points lost on '{wild}'. "
            "Train with stronger position augmentation (--augment strong) and see the position sweep."
            + looks
        )
    return "appearance", (
        f"Not position: appearance. Geometry explains {100 * max(0.0, geometry['drop']):.1f} of the "
        f"{100 * lost:.1f} points lost on '{wild}'; the rest is backgrounds, light, hands and cameras. "
        "Capture on the device and train with the captures; `edgeposinv learning-curve` says how many are worth taking."
        + looks
    )


def occlusion_samples(
    clf: TFLiteClassifier,
    items: list[dict],
    config: OcclusionConfig,
) -> tuple[list[dict], list[dict]]:
    """Occlusion maps of ``items`` (``set``, ``path``, ``relative``, ``true_id``, ``predicted_id``,
    ``confidence``) → (JSON rows, display rows with an overlay data URI)."""
    import cv2

    from edgeposinv.data.images import ImageDecodeError, read_rgb

    rows, shown = [], []
    for item in items:
        try:
            pixels = clf.prepare(read_rgb(item["path"]))
        except ImageDecodeError:
            continue
        sens = occlusion_map(clf, pixels, item["true_id"], config)
        peak = np.unravel_index(int(np.argmax(sens)), sens.shape)
        row = {
            "set": item["set"],
            "relative": item["relative"],
            "true": clf.labels[item["true_id"]],
            "predicted": clf.labels[item["predicted_id"]],
            "confidence": item["confidence"],
            "max_drop": float(sens.max()),
            "peak_frac": [float(peak[0] / sens.shape[0]), float(peak[1] / sens.shape[1])],
            "centre_share": centre_share(sens),
        }
        rows.append(row)
        both = np.concatenate([pixels, overlay(pixels, sens)], axis=1)
        if both.shape[0] < 96:
            f = 96 / both.shape[0]
            both = cv2.resize(both, None, fx=f, fy=f, interpolation=cv2.INTER_NEAREST)
        ok, buf = cv2.imencode(
            ".jpg", cv2.cvtColor(both, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 85]
        )
        if ok:
            shown.append(
                {
                    **row,
                    "src": "data:image/jpeg;base64,"
                    + base64.b64encode(buf.tobytes()).decode("ascii"),
                }
            )
    return rows, shown


def _mean_share(rows: list[dict], set_name: str) -> float | None:
    vals = [
        r["centre_share"] for r in rows if r["set"] == set_name and not np.isnan(r["centre_share"])
    ]
    return float(np.mean(vals)) if vals else None


def diagnose(
    report: dict,
    clf: TFLiteClassifier,
    wild: str,
    reference_paths: list[Path],
    reference_root: Path,
    reference_y: np.ndarray,
    reference_correct: np.ndarray,
    geometry_top1: np.ndarray,
    geometry_config: GeometryCheckConfig,
    misclassified: list[dict],
    occlusion: OcclusionConfig = OcclusionConfig(),
    samples_per_set: int = 6,
) -> tuple[dict, list[dict]]:
    """The ``diagnosis`` entry of the report and its display rows (occlusion overlays)."""
    reference = report["reference"]
    gap = report["gaps"][wild]
    geometry = geometry_summary(geometry_config, geometry_top1, reference_y, reference_correct)
    lost = -gap["difference"]
    geometry["explained_share"] = (
        float(np.clip(geometry["drop"] / lost, 0.0, 1.0)) if lost > 0 else 0.0
    )
    ids = {label: i for i, label in enumerate(clf.labels)}
    right = [i for i in range(len(reference_paths)) if reference_correct[i]]
    items = [
        {
            "set": reference,
            "path": reference_paths[i],
            "relative": reference_paths[i].relative_to(reference_root).as_posix(),
            "true_id": int(reference_y[i]),
            "predicted_id": int(reference_y[i]),
            "confidence": None,
        }
        for i in (right[j] for j in _even_sample(len(right), samples_per_set))
    ]
    wrong = sorted((m for m in misclassified if m["set"] == wild), key=lambda m: -m["confidence"])
    items += [
        {
            "set": wild,
            "path": m["path"],
            "relative": m["relative"],
            "true_id": ids[m["true"]],
            "predicted_id": ids[m["predicted"]],
            "confidence": m["confidence"],
        }
        for m in wrong[:samples_per_set]
    ]
    rows, shown = occlusion_samples(clf, items, occlusion)
    occ = {
        **asdict(occlusion),
        "samples": rows,
        "reference_centre_share": _mean_share(rows, reference),
        "wild_centre_share": _mean_share(rows, wild),
    }
    cause, sentence = verdict(reference, wild, gap, geometry, occ)
    return {
        "set": wild,
        "reference": reference,
        "gap": gap["difference"],
        "geometry": geometry,
        "occlusion": occ,
        "cause": cause,
        "verdict": sentence,
    }, shown


def _pct(v: float) -> str:
    return f"{100 * v:.1f}%"


def diagnosis_html(diag: dict, shown: list[dict]) -> str:
    """The report's "Where the gap comes from" section."""
    from edgeposinv.evaluation.report import short_name

    g, occ = diag["geometry"], diag["occlusion"]
    cells = "".join(
        f"<figure class='thumb wide'><img src='{s['src']}' alt='{html.escape(s['relative'])}'>"
        f"<figcaption><b>{html.escape(s['set'])}</b> {html.escape(s['true'])}"
        + (
            f" → <span class='bad'>{html.escape(s['predicted'])}</span> {100 * s['confidence']:.0f}%"
            if s["predicted"] != s["true"]
            else ""
        )
        + f"<br><span class='note' title='{html.escape(s['relative'])}'>{html.escape(short_name(s['relative'], 40))}</span>"
        "</figcaption></figure>"
        for s in shown
    )

    def share(v: float | None) -> str:
        return "n/a" if v is None else f"{v:.0%}"

    return (
        f"<h2>Where the gap comes from ('{html.escape(diag['set'])}' vs '{html.escape(diag['reference'])}')</h2>"
        f"<p><b>{html.escape(diag['verdict'])}</b></p>"
        f"<p>Geometry: {g['n']} '{html.escape(diag['reference'])}' images, {g['views_per_image']} random views each "
        f"(shift ±{g['max_shift_frac']:.2g} of the side, scale {g['scale_range'][0]:.2g}–{g['scale_range'][1]:.2g}, "
        f"rotation ±{g['max_rotation_deg']:.0f}°): top-1 {_pct(g['plain_top1'])} unmoved, {_pct(g['top1'])} moved "
        f"(95% CI {_pct(g['top1_ci95'][0])} – {_pct(g['top1_ci95'][1])}); a drop of {100 * g['drop']:.1f} points "
        f"({100 * g['drop_ci95'][0]:+.1f} … {100 * g['drop_ci95'][1]:+.1f}) of the {-100 * diag['gap']:.1f} lost in the wild: "
        f"geometry explains {g['explained_share']:.0%} of the gap.</p>"
        f"<p>Where the model looks: each pair is the image as the model saw it and, in red, how much covering each "
        f"place with a grey square ({occ['patch_frac']:.0%} of the side, step {occ['stride_frac']:.0%}) lowers the "
        f"probability of the true class (in blue: covering raises it, so that place misleads the model). Share of that sensitivity in the central quarter: "
        f"{share(occ['reference_centre_share'])} on '{html.escape(diag['reference'])}', "
        f"{share(occ['wild_centre_share'])} on '{html.escape(diag['set'])}' mistakes.</p>"
        f"<div class='gallery'>{cells}</div>"
    )


def diagnose_set(workers, clf, report, ref, wild, misclassified, show_progress):
    """The report's ``diagnosis`` of set ``wild``: the geometry check runs on the reference
    set (``ref``, decoded with ``workers``), then :func:`diagnose`."""
    config = GeometryCheckConfig()
    keep = np.unique(np.linspace(0, len(ref.paths) - 1, min(len(ref.paths), config.max_images)))
    keep = keep.round().astype(int)
    paths = [ref.paths[i] for i in keep]
    work = workers.run(
        GeometryTask(config), paths, desc="diagnosis: geometry", show_progress=show_progress
    )
    ok = [i for i, r in enumerate(work.results) if r is not None]
    y = ref.y_true[keep][ok]
    predicted = {(s, str(p)) for s, p in ((m["set"], m["path"]) for m in misclassified)}
    correct = np.array([(report["reference"], str(paths[i])) not in predicted for i in ok])
    return diagnose(
        report,
        clf,
        wild,
        [paths[i] for i in ok],
        ref.index.root,
        y,
        correct,
        np.stack([work.results[i] for i in ok]),
        config,
        misclassified,
    )
