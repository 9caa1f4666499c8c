"""`edgeposinv export` from the command line: models/<name>/ delivery, Android assets, errors."""

from __future__ import annotations

import json

from conftest import run_cli


def test_cli_option_a_mode_does_not_take_is_one_line_error(trained_run, tmp_path):
    proc = run_cli(
        "export",
        str(trained_run),
        "--out",
        str(tmp_path / "m.tflite"),
        "--quantize",
        "float16",
        "--io",
        "uint8",
    )
    assert proc.returncode == 1
    assert (
        "--io does not apply to --quantize float16" in proc.stderr
        and "Traceback" not in proc.stderr
    )
    assert not (tmp_path / "m.tflite").exists()


def test_cli_export_to_model_folder_with_card_and_android_assets(trained_run, tmp_path):
    report = tmp_path / "report.json"
    report.write_text(
        json.dumps(
            {
                "schema_version": "1.0",
                "runtime": {"name": "ai-edge-litert", "version": "2.3.0"},
                "sets": {
                    "published": {"n": 60, "top1": 0.95, "top1_ci95": [0.86, 0.98]},
                    "wild": {"n": 60, "top1": 0.55, "top1_ci95": [0.42, 0.67]},
                },
            }
        )
    )
    assets = tmp_path / "app" / "src" / "main" / "assets"
    assets.parent.mkdir(parents=True)
    folder = tmp_path / "models" / "shapes"
    args = (
        "export",
        str(trained_run),
        "--out",
        str(folder),
        "--quantize",
        "int8",
        "--android-assets",
        str(assets),
        "--report-json",
        str(report),
    )
    proc = run_cli(*args)
    assert proc.returncode == 0, proc.stderr
    n_val = len(json.loads((trained_run / "split.json").read_text())["val"])
    assert f"Parity on {n_val} validation images" in proc.stdout and "x float32" in proc.stdout
    assert "thread(s)" in proc.stdout
    assert sorted(p.name for p in folder.iterdir()) == [
        "MODEL.json",
        "MODEL_CARD.md",
        "model.tflite",
    ]
    side = json.loads((folder / "MODEL.json").read_text())
    assert side["labels"] == ["circle", "square", "triangle"] and side["export"]["mode"] == "int8"
    assert side["size"]["ratio_to_float32"] <= 0.35
    card = (folder / "MODEL_CARD.md").read_text()
    for needle in (
        "# shapes",
        "## Data",
        "`circle`",
        "## Training recipe",
        "epochs: `8`",
        "Mode: `int8`",
        "| wild | 60 | 55.0% |",
        "Host latency:",
        "thread(s), on",
    ):
        assert needle in card, needle
    assert "resolution" not in card  # nothing lost here: no note
    # the same card when the gate let one lost image of a small split through
    from edgeposinv.export.delivery import model_card

    one = {**side, "parity": {**side["parity"], "drop_points": 5.0, "images_lost": 1}}
    assert "passed (5.0 points, but 1 image: within the check's resolution)." in model_card(
        one, None, "shapes"
    )
    assert (assets / "model.tflite").read_bytes() == (folder / "model.tflite").read_bytes()
    assert (assets / "labels.txt").read_text().split() == ["circle", "square", "triangle"]

    again = run_cli(*args)
    assert (
        again.returncode == 1 and "already exists" in again.stderr and "--overwrite" in again.stderr
    )

    shown = run_cli("inspect", str(folder / "model.tflite"))
    assert (
        shown.returncode == 0
        and "Parity (sidecar)" in shown.stdout
        and "CONV_2D x4" in shown.stdout
    )
