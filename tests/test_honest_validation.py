"""Honest validation: near-duplicate groups without a manifest, per-class fallback recorded
in split.json, --val DIR and --val-split 0, dataset overlap, training fingerprints."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import make_shapes_dataset, run_cli, shared_path

from edgeposinv.data.duplicates import cluster, hash_images


def _scene(rng: np.random.Generator, size: int = 160) -> np.ndarray:
    """A distinct 'photo': a smooth random background with a few random shapes."""
    low = rng.integers(0, 255, (4, 4, 3)).astype(np.uint8)
    img = cv2.resize(low, (size, size), interpolation=cv2.INTER_CUBIC)
    for _ in range(4):
        colour = tuple(int(v) for v in rng.integers(0, 255, 3))
        c = tuple(int(v) for v in rng.integers(10, size - 10, 2))
        if rng.random() < 0.5:
            cv2.circle(img, c, int(rng.integers(10, 35)), colour, -1)
        else:
            cv2.rectangle(img, c, (c[0] + int(rng.integers(14, 50)), c[1] + 20), colour, -1)
    return img


def _shift(rgb, frac):
    h, w = rgb.shape[:2]
    m = np.float32([[1, 0, frac * w], [0, 1, -frac * h]])
    return cv2.warpAffine(rgb, m, (w, h), borderMode=cv2.BORDER_REFLECT_101)


def _jpeg(rgb, q=50):
    return cv2.imdecode(cv2.imencode(".jpg", rgb, [cv2.IMWRITE_JPEG_QUALITY, q])[1], 1)


def _half(rgb):
    return cv2.resize(rgb, (rgb.shape[1] // 2, rgb.shape[0] // 2), interpolation=cv2.INTER_AREA)


COPIES = (_half, _jpeg, lambda x: _shift(x, 0.03), lambda x: _jpeg(_half(_shift(x, 0.02)), 75))


def _planted(photos):
    """Originals, then one copy of each of the first 4*k photos (k per kind of copy)."""
    images, source = list(photos), list(range(len(photos)))
    for i in range(min(len(photos), 20)):
        images.append(COPIES[i % len(COPIES)](photos[i]))
        source.append(i)
    return images, np.array(source)


def _check_clusters(ids, source, n_photos):
    for i in range(len(ids)):  # every copy sits with its original ...
        assert ids[i] == ids[source[i]], i
    sizes = np.bincount(ids, minlength=len(ids))
    planted = set(source[n_photos:].tolist())
    for i in range(n_photos):  # ... and no distinct photos share a cluster
        assert sizes[ids[i]] == (2 if i in planted else 1), (i, sizes[ids[i]])


def test_planted_near_duplicates_are_found_and_distinct_photos_are_not_grouped():
    rng = np.random.default_rng(0)
    photos = [_scene(rng) for _ in range(60)]
    images, source = _planted(photos)
    _check_clusters(cluster(hash_images(images)), source, len(photos))


def test_planted_near_duplicates_among_real_phone_photos():
    """sign_digits: 218 students' photos of hands on a light background, similar to each
    other: copies are found, no two students' photos are grouped."""
    from edgeposinv.data.dataset import scan_dataset
    from edgeposinv.data.images import read_rgb

    index = scan_dataset(shared_path("datasets", "sign_digits"))
    rng = np.random.default_rng(1)
    picks = [r for r in index.records if r.label == "3"]
    picks = [picks[i] for i in rng.choice(len(picks), 80, replace=False)]
    photos = [read_rgb(r.path) for r in picks]
    images, source = _planted(photos)
    _check_clusters(cluster(hash_images(images)), source, len(photos))


def _write(path, rgb):
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))


def _bursty_dataset(root, n_sources=12, copies=3, seed=0, classes=("a", "b", "c")):
    """No manifest; each source photo saved with ``copies`` near-identical extra shots."""
    rng = np.random.default_rng(seed)
    for label in classes:
        for s in range(n_sources):
            photo = _scene(rng)
            _write(root / label / f"src{s:02d}_0.png", photo)
            for k in range(copies):
                _write(root / label / f"src{s:02d}_{k + 1}.png", COPIES[k % len(COPIES)](photo))
    return root


def test_split_keeps_near_duplicates_on_one_side(tmp_path):
    from edgeposinv.data.dataset import load_images, scan_dataset
    from edgeposinv.data.splits import split_loaded

    root = _bursty_dataset(tmp_path / "d")
    data = load_images(scan_dataset(root), 48, show_progress=False)
    plan, grouping = split_loaded(data, 0.25, seed=0)
    source = [p.parent.name + p.name.split("_")[0] for p in data.paths]
    assert {source[i] for i in plan.train_idx}.isdisjoint({source[i] for i in plan.val_idx})
    assert grouping["near_duplicates"]["n_clusters"] == 36
    assert all(len(c) == 4 for c in grouping["near_duplicates"]["clusters"])
    assert [s["method"] for s in plan.strata] == ["grouped"] * 3
    assert len(plan.val_idx) == 36  # 3 whole sources of 4 per class
    # without grouping, the by-image split puts copies of one source on both sides
    plan_off, _ = split_loaded(data, 0.25, seed=0, near_duplicates=False)
    train_src = {source[i] for i in plan_off.train_idx}
    assert any(source[i] in train_src for i in plan_off.val_idx)


@pytest.mark.parametrize(
    "name, source",
    [
        ("rock.0007_png.rf.0b6136efce71b802acb1d1d689d44720_00623.jpg", "rock.0007_png"),
        ("rock.IMG_5567_mp4-32_jpg.rf.9c1b6136efce71b802acb1d1d689d447_3.jpg", "rock.IMG_5567_mp4"),
        ("walk_MOV-0012.png", "walk_MOV"),
        # re-published with long names cut short: a few hex digits of the hash remain
        (
            "paper.egohands-public-1620852256502_png_jpg.rf.d824912fa558c67b333_00853.jpg",
            "paper.egohands-public-1620852256502_png_jpg",
        ),
        (
            "paper.Screen-Recording-9_48_18-PM_mov-216_jpg.rf.b1c_00038.jpg",
            "paper.Screen-Recording-9_48_18-PM_mov",
        ),
        ("IMG_0001.jpg", None),
        ("frame_000123.png", None),
        ("photo.rf.notahash.jpg", None),
        ("photo.rf.ab.jpg", None),
        ("brief.rf.deadline.jpg", None),
    ],
)
def test_named_source_reads_exports_and_video_frames(name, source):
    from edgeposinv.data.names import named_source

    assert named_source(name) == source


def test_split_keeps_files_named_after_one_source_on_one_side(tmp_path):
    """Roboflow-style exports of one original photo look unlike each other (augmented):
    no hash links them, their names do."""
    from edgeposinv.data.dataset import load_images, scan_dataset
    from edgeposinv.data.splits import split_loaded

    rng = np.random.default_rng(3)
    root = tmp_path / "d"
    for label in ("a", "b"):
        for s in range(10):
            for k in range(3):  # three different-looking exports of one original
                digest = f"{rng.integers(0, 2**63):016x}{rng.integers(0, 2**63):016x}"
                _write(root / label / f"{label}.{s:04d}_png.rf.{digest}_{k}.jpg", _scene(rng))
    data = load_images(scan_dataset(root), 48, show_progress=False)
    plan, grouping = split_loaded(data, 0.3, seed=0)
    source = [p.parent.name + p.name.split("_png")[0] for p in data.paths]
    assert {source[i] for i in plan.train_idx}.isdisjoint({source[i] for i in plan.val_idx})
    assert grouping["near_duplicates"]["named_sources"]["n_images_in_clusters"] == 60
    # the hash alone finds nothing here
    assert grouping["near_duplicates"]["hash"]["n_images_in_clusters"] == 0


def test_numbered_blocks_cut_long_sequences_into_their_ends_and_middle():
    from edgeposinv.data.names import MIN_NUMBERED_RUN, numbered_blocks

    names = [f"IMG_{n:04d}.jpg" for n in range(1, 41)]  # a gallery of 40 shots, steps of 1
    names += [f"IMG_{n:04d}.jpg" for n in range(100, 100 + 10 * (MIN_NUMBERED_RUN - 1), 10)]
    names += ["cover.jpg", "b_001.jpg", "b_002.jpg"]  # no number, a short sequence
    ids = numbered_blocks(names, np.zeros(len(names), int), 0.2)
    head, middle, tail = ids[:8], ids[8:32], ids[32:40]
    assert all(len(set(part)) == 1 and part[0] is not None for part in (head, middle, tail))
    assert len({head[0], middle[0], tail[0]}) == 3  # first 20%, the middle, last 20%
    assert [head[0][0], middle[0][0], tail[0][0]] == ["head", "mid", "tail"]
    assert ids[40:] == [None] * len(ids[40:])  # steps of 10, too short, or no number
    two_classes = numbered_blocks(names[:40], np.repeat([0, 1], 20), 0.2)
    assert len(set(two_classes)) == 6  # each class's 20 shots: 4 + 12 + 4 ...
    assert two_classes[19] != two_classes[20]  # ... never across classes
    short = numbered_blocks(names[:8], np.zeros(8, int), 0.8)  # ends never overlap
    assert short == [("head", 0)] * 4 + [("tail", 0)] * 4


def test_split_validates_on_an_end_of_a_numbered_gallery(tmp_path):
    """The issue's shop photos: sessions of consecutive shots of one shelf, each shot unlike
    the others (no hash links them), one gallery numbering per class. Validation takes the
    beginning or the end of the numbering, so at most one session per class straddles."""
    from edgeposinv.data.dataset import load_images, scan_dataset
    from edgeposinv.data.splits import split_loaded

    rng = np.random.default_rng(4)
    root = tmp_path / "d"
    for label in ("a", "b", "c"):
        for n in range(42):  # sessions of 6 shots
            _write(root / label / f"{label}_{n + 1:03d}.jpg", _scene(rng))
    data = load_images(scan_dataset(root), 48, show_progress=False)
    plan, grouping = split_loaded(data, 0.2, seed=0)
    session = [p.parent.name + str((int(p.stem.split("_")[1]) - 1) // 6) for p in data.paths]
    shared = {session[i] for i in plan.train_idx} & {session[i] for i in plan.val_idx}
    assert len(plan.val_idx) == 27 and len(shared) <= 3
    for label in ("a", "b", "c"):
        numbers = sorted(
            int(data.paths[i].stem[2:]) for i in plan.val_idx if data.paths[i].parent.name == label
        )
        assert numbers in (list(range(1, 10)), list(range(34, 43)))
    assert grouping["near_duplicates"]["numbered_blocks"]["n_images_in_blocks"] == 126
    by_image, _ = split_loaded(data, 0.2, seed=0, near_duplicates="off")
    leaky = {session[i] for i in by_image.train_idx} & {session[i] for i in by_image.val_idx}
    assert len(leaky) > 10  # scattered validation shots touch most sessions


def test_numbered_frames_of_whole_clips_validate_as_clips(tmp_path):
    """Frames cut from clips (``clip03_f000.png``, every third frame): each clip's numbering
    is a sequence and the hash joins its frames, so the clip is one group holding its own
    middle; such a group is a clip to validate, not a middle to keep in training."""
    from edgeposinv.data.dataset import load_images, scan_dataset
    from edgeposinv.data.splits import GROUPED, split_loaded

    rng = np.random.default_rng(5)
    root = tmp_path / "d"
    for label in ("a", "b", "c"):
        for clip in range(6):
            scene = _scene(rng)
            for f in range(0, 30, 3):  # 10 frames, drifting a little
                _write(root / label / f"clip{clip:02d}_f{f:03d}.png", _shift(scene, f / 3000))
    data = load_images(scan_dataset(root), 48, show_progress=False)
    plan, grouping = split_loaded(data, 0.2, seed=0)
    assert [s["method"] for s in plan.strata] == [GROUPED] * 3
    clip = [p.parent.name + p.stem[:6] for p in data.paths]
    assert {clip[i] for i in plan.val_idx}.isdisjoint(clip[i] for i in plan.train_idx)
    per_class = np.bincount(data.label_ids[plan.val_idx], minlength=3)
    assert set(per_class.tolist()) <= {10, 20}  # target 12 of 60: one clip, or a cut one more
    assert grouping["near_duplicates"]["numbered_blocks"]["n_images_in_blocks"] == 180


def test_fallback_is_per_class_and_recorded():
    from edgeposinv.data.splits import FALLBACK, GROUPED, plan_split

    labels = [0] * 20 + [1] * 20 + [2] * 20
    groups = [f"s{i // 5}" for i in range(40)] + ["one-session"] * 20  # class 2: one session
    plan = plan_split(labels, 0.25, 0, groups, stratum_names={0: "a", 1: "b", 2: "c"})
    methods = {s["stratum"]: s["method"] for s in plan.strata}
    assert methods == {"a": GROUPED, "b": GROUPED, "c": FALLBACK}
    assert plan.fallback_strata == ["c"]
    val_groups = {groups[i] for i in plan.val_idx if labels[i] < 2}
    train_groups = {groups[i] for i in plan.train_idx if labels[i] < 2}
    assert val_groups.isdisjoint(train_groups) and len(val_groups) == 2
    assert sum(labels[i] == 2 for i in plan.val_idx) == 5


def test_grouped_split_validates_every_image_alike_whatever_its_group_size():
    """A validation set should look like the data: a long clip's frames must be as likely to
    validate as a single photo. (The greedy picker this replaced validated the 30-frame
    clip's images at about half the rate of single photos.)"""
    from edgeposinv.data.splits import plan_split

    sizes = [30, 20, 10, 10, 5, 5, 5, 5, 5, 5] + [1] * 10
    groups = [g for g, size in enumerate(sizes) for _ in range(size)]
    n, seeds = len(groups), 600
    hits = np.zeros(n)
    counts = []
    for seed in range(seeds):
        plan = plan_split([0] * n, 0.2, seed, groups)
        hits[plan.val_idx] += 1
        counts.append(len(plan.val_idx))
        val = {groups[i] for i in plan.val_idx}
        assert val.isdisjoint(groups[i] for i in plan.train_idx)  # whole groups only
    rate = hits / seeds
    big, small, single = rate[:30].mean(), rate[60:90].mean(), rate[100:].mean()
    for r in (big, small, single):  # 0.2 each, within sampling noise (sd about 0.02)
        assert abs(r - 0.2) < 0.06, (big, small, single)
    assert abs(np.mean(counts) - 0.2 * n) < 2.0  # the target on average


def test_one_image_per_class_needs_val_split_0():
    from edgeposinv.data.splits import plan_split, require_validation
    from edgeposinv.errors import DatasetError

    plan = plan_split([0, 1, 2], 0.2, 0)
    assert len(plan.val_idx) == 0 and len(plan.train_only_strata) == 3
    with pytest.raises(DatasetError, match="--val-split 0"):
        require_validation(plan, 3, 0.2)


def test_dataset_overlap_finds_planted_copies_across_folders(tmp_path):
    rng = np.random.default_rng(3)
    a, b = tmp_path / "train", tmp_path / "test"
    photos = [_scene(rng) for _ in range(30)]
    for i, p in enumerate(photos):
        _write(a / ("x" if i % 2 else "y") / f"{i}.png", p)
    (b / "x").mkdir(parents=True)
    (b / "x" / "same.png").write_bytes((a / "y" / "0.png").read_bytes())  # exact, other class
    _write(b / "x" / "jpeg.jpg", _jpeg(photos[3]))
    _write(b / "y" / "shifted.png", _shift(photos[4], 0.03))
    _write(b / "y" / "half.png", _half(photos[5]))
    for i in range(20):
        _write(b / "y" / f"new{i}.png", _scene(rng))
    # two exports of one original photo (Roboflow names), unlike in pixels
    digest = "0123456789abcdef" * 2
    _write(a / "x" / f"x.0042_png.rf.{digest}_1.jpg", _scene(rng))
    _write(b / "y" / f"x.0042_png.rf.{digest[::-1]}_7.jpg", _scene(rng))
    r = run_cli("dataset", "overlap", str(a), str(b), "--json", str(tmp_path / "o.json"))
    assert r.returncode == 0, r.stderr
    assert "1 exact, 3 near and 1 named copies" in r.stdout
    out = json.loads((tmp_path / "o.json").read_text())
    assert out["exact"] == [{"b": "x/same.png", "a": "y/0.png"}]
    assert sorted((n["b"], n["a"]) for n in out["near"]) == [
        ("x/jpeg.jpg", "x/3.png"),
        ("y/half.png", "x/5.png"),
        ("y/shifted.png", "y/4.png"),
    ]
    assert out["named"] == [
        {
            "b": f"y/x.0042_png.rf.{digest[::-1]}_7.jpg",
            "a": f"x/x.0042_png.rf.{digest}_1.jpg",
            "source": "x.0042_png",
        }
    ]


def test_dataset_stats_reports_near_duplicate_clusters(tmp_path):
    from edgeposinv.data.stats import dataset_stats

    root = _bursty_dataset(tmp_path / "d", n_sources=4, copies=2, classes=("a", "b"))
    stats = dataset_stats(root, show_progress=False)
    assert [len(c) for c in stats.near_duplicates["a"]] == [3, 3, 3, 3]
    assert any("4 cluster(s), 12 of 12 images, largest 3" in line for line in stats.lines())
    assert len(stats.to_dict()["near_duplicate_clusters"]["b"]) == 4


def test_dataset_stats_counts_files_named_after_one_source_as_one_cluster(tmp_path):
    """``dataset stats`` groups as the split does: exports of one original look unlike each
    other (no hash links them), but their names say they are one photo."""
    from edgeposinv.data.stats import dataset_stats

    rng = np.random.default_rng(5)
    for s in range(3):
        for k in range(2):
            digest = f"{rng.integers(0, 2**63):016x}{rng.integers(0, 2**63):016x}"
            _write(tmp_path / "d" / "a" / f"a.{s:04d}_png.rf.{digest}_{k}.jpg", _scene(rng))
    _write(tmp_path / "d" / "a" / "lonely.jpg", _scene(rng))
    stats = dataset_stats(tmp_path / "d", show_progress=False)
    assert [len(c) for c in stats.near_duplicates["a"]] == [2, 2, 2]
    assert all(
        len({Path(f).name.split("_png")[0] for f in c}) == 1 for c in stats.near_duplicates["a"]
    )


def test_fingerprints_round_trip_through_the_metadata(int8_model):
    from edgeposinv.data.duplicates import fingerprint_bytes
    from edgeposinv.tflite.metadata import (
        CONTRACT_NAME,
        read_entries,
        read_fingerprints,
        write_entries,
    )

    hashes = np.array([2**64 - 1, 5, 5, 2**63 + 7, 0], np.uint64)
    model = int8_model.read_bytes()
    assert read_fingerprints(model) is None
    with_fp = write_entries(model, {"edgeposinv.train_fingerprints/1": fingerprint_bytes(hashes)})
    assert read_fingerprints(with_fp).tolist() == [0, 5, 2**63 + 7, 2**64 - 1]
    assert read_entries(with_fp)[CONTRACT_NAME] == read_entries(model)[CONTRACT_NAME]
    assert len(with_fp) - len(model) < 4 * 8 + 200  # 8 bytes a hash, plus the entry


@pytest.mark.slow
def test_val_dir_and_val_split_0_runs_export_and_evaluate(tmp_path):
    data = make_shapes_dataset(tmp_path / "data", n_per_class=24, size=32, seed=1)
    val = make_shapes_dataset(tmp_path / "val", n_per_class=6, size=32, seed=2)
    common = ["--image-size", "24", "--epochs", "3", "--batch-size", "8", "--augment", "none"]
    r = run_cli("train", str(data), "--out", str(tmp_path / "rv"), "--val", str(val), *common)
    assert r.returncode == 0, r.stderr
    split = json.loads((tmp_path / "rv" / "split.json").read_text())
    assert len(split["train"]) == 72 and len(split["val"]) == 18
    assert set(split["val_folder"]) == {1} and split["folders"][1] == str(val.resolve())
    assert "--val" in split["validation"]

    r = run_cli("train", str(data), "--out", str(tmp_path / "r0"), "--val-split", "0", *common)
    assert r.returncode == 0, r.stderr
    assert "no validation images" in r.stdout
    config = json.loads((tmp_path / "r0" / "config.json").read_text())
    assert "training loss" in config["result"]["validation"]
    assert config["result"]["val_accuracy"] is None
    assert json.loads((tmp_path / "r0" / "split.json").read_text())["val"] == []

    for run in ("rv", "r0"):
        model = tmp_path / f"{run}.tflite"
        r = run_cli("export", str(tmp_path / run), "--out", str(model), "--fingerprints")
        assert r.returncode == 0, r.stderr
        sidecar = json.loads(model.with_suffix(".json").read_text())
        assert sidecar["parity"]["checked"]
        assert sidecar["parity"]["split"] == ("val" if run == "rv" else "train_sample")
        assert sidecar["train_fingerprints"]["n_images"] == 72
    assert "no validation images" in sidecar["parity"]["note"]

    # a test set with 5 copied training images and the 18 validation images
    test = tmp_path / "test"
    train_files = [data / rel for rel in split["train"][:5]]
    for i, f in enumerate(train_files):
        (test / f.parent.name).mkdir(parents=True, exist_ok=True)
        (test / f.parent.name / f"copy{i}.png").write_bytes(f.read_bytes())
    for f in (val / k for k in split["val"]):
        (test / f.parent.name / f.name).parent.mkdir(parents=True, exist_ok=True)
        (test / f.parent.name / f.name).write_bytes(f.read_bytes())
    r = run_cli(
        "evaluate",
        str(tmp_path / "rv.tflite"),
        "--set",
        f"t={test}",
        "--report",
        str(tmp_path / "rep"),
    )
    assert r.returncode == 0, r.stderr
    assert "duplicates of the model's training images" in r.stderr
    report = json.loads((tmp_path / "rep" / "report.json").read_text())
    assert tuple(map(int, report["schema_version"].split("."))) >= (1, 2)  # overlap: 1.2
    overlap = report["sets"]["t"]["training_overlap"]
    assert overlap["n_overlapping"] >= 5 and overlap["n_non_overlapping"] <= 18
