"""The TensorFlow boundary is in the tree: only ``training/``, ``export/`` and the ``demo``
orchestrator may import TensorFlow, tf_keras or tfmot; everything else imports without them.
"""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from pathlib import Path

from conftest import REPO

PACKAGE = REPO / "edgeposinv"
TF_ROOTS = {"tensorflow", "tf_keras", "keras", "tensorflow_model_optimization"}
#: Where TensorFlow may be imported (directly or through edgeposinv.training/export).
TF_ALLOWED = ("training", "export", "demo.py")


def _module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _tf_free_modules() -> list[Path]:
    return sorted(
        p for p in PACKAGE.rglob("*.py") if p.relative_to(PACKAGE).parts[0] not in TF_ALLOWED
    )


def _imported_roots(tree: ast.AST) -> set[str]:
    roots: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
            if node.module.startswith("edgeposinv."):
                roots.add(node.module)
    return roots


def test_the_stage_packages_exist():
    stages = {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file()}
    assert {"data", "transforms", "training", "export", "tflite", "evaluation", "device"} <= stages
    assert {"capture", "commands", "util"} <= stages
    # no flat stage modules left over next to the packages
    flat = {p.stem for p in PACKAGE.glob("*.py")}
    assert flat <= {"__init__", "__main__", "cli", "demo", "errors", "extras"}, flat


def test_no_tensorflow_import_outside_training_and_export():
    offenders = []
    for path in _tf_free_modules():
        roots = _imported_roots(ast.parse(path.read_text(), str(path)))
        bad = roots & TF_ROOTS
        # commands import the TF stages lazily, inside a command; library modules never do
        if path.relative_to(PACKAGE).parts[0] != "commands":
            bad |= {
                r
                for r in roots
                if r.startswith(("edgeposinv.training", "edgeposinv.export", "edgeposinv.demo"))
            }
        if bad:
            offenders.append(f"{path.relative_to(REPO)}: {sorted(bad)}")
    assert not offenders, "TensorFlow-side imports outside training/ and export/:\n" + "\n".join(
        offenders
    )


def test_every_tf_free_module_imports_with_tensorflow_blocked():
    names = [_module_name(p) for p in _tf_free_modules()]
    script = textwrap.dedent(
        f"""
        import importlib, importlib.abc, sys

        class Block(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in {sorted(TF_ROOTS)!r}:
                    raise ImportError(name + " is blocked")
                return None

        sys.meta_path.insert(0, Block())
        for name in {names!r}:
            importlib.import_module(name)
        print(len({names!r}))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert int(done.stdout.strip()) == len(names) > 30
