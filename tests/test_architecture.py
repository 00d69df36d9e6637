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


READERS = [
    PACKAGE / "_onnx.py",
    PACKAGE / "onnx.py",
    *sorted((PACKAGE / "inspection").glob("*.py")),
]


@pytest.mark.parametrize("path", READERS, ids=lambda p: p.name)
def test_exports_and_displays_read_estimators_through_public_names(path):
    """ONNX and the displays use public or documented accessors
    (``compute_dtype_``, ``layer_names_``, ``effective_stride``, the head),
    never another object's private attribute."""
    private = [
        f"line {node.lineno}: .{node.attr}"
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Attribute)
        and node.attr.startswith("_")
        and not node.attr.startswith("__")
        and not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"))
    ]
    assert not private, f"{path.name} reads {private}"
