"""Layering rules that keep the code legible: SpiffWorkflow only in engine/runtime,
no Flask in engine/forms/handlers, forms imports nothing of ours."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def python_files(folder: str) -> list[Path]:
    return sorted((ROOT / folder).rglob("*.py"))


@pytest.mark.parametrize("package", ["engine", "forms", "handlers", "webui"])
def test_only_engine_runtime_imports_spiffworkflow(package):
    offenders = [
        p for p in python_files(package) if "SpiffWorkflow" in imports(p) and "runtime" not in p.relative_to(ROOT).parts
    ]
    assert offenders == []


@pytest.mark.parametrize("package", ["engine", "forms", "handlers"])
def test_core_packages_do_not_import_flask(package):
    assert [p for p in python_files(package) if "flask" in imports(p)] == []


def test_forms_is_a_leaf_package():
    ours = {"engine", "webui", "handlers"}
    assert [p for p in python_files("forms") if imports(p) & ours] == []
