"""The house rules of the source tree, read from its syntax."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "skcnn"


def _imports(path: Path) -> set[str]:
    """Modules ``path`` imports (absolute names; relative imports resolved)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:
                parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
                module = ".".join([*parts[: -node.level], module]).rstrip(".")
            names.add(module)
    return names


KERNELS = sorted((PACKAGE / "_kernels").glob("*.py"))


@pytest.mark.parametrize("path", KERNELS, ids=lambda p: p.name)
def test_kernels_know_nothing_of_scikit_learn_or_the_estimators(path):
    imported = _imports(path)
    outside = sorted(
        name
        for name in imported
        if name.split(".")[0] == "sklearn"
        or (name.startswith("skcnn") and not name.startswith("skcnn._kernels"))
    )
    assert not outside, f"{path.name} imports {outside}"
