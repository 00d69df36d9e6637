"""scikit-learn's own MLPClassifier tests, run against skcnn's MLPClassifier.

The tests are not copied here: this module reads
``sklearn/neural_network/tests/test_mlp.py`` from the *installed*
scikit-learn, swaps its ``MLPClassifier`` import for skcnn's, leaves out the
regressor tests (a test that uses ``MLPRegressor`` and not ``MLPClassifier``;
parametrizations over both keep the classifier), and runs what remains here.
A scikit-learn release that adds a test of the classifier's behaviour thus
shows up in this suite.

The only tests expected to fail are those of scikit-learn's private
internals, listed in ``EXCEPTED`` with the reason; they are strict xfails, so
one that starts passing is reported too.
"""

import ast
import importlib.util
import linecache
from pathlib import Path

import pytest
import sklearn

SUITE = "sklearn.neural_network.tests.test_mlp"

EXCEPTED = {
    "test_gradient": (
        "calls scikit-learn's private method MLPClassifier._loss_grad_lbfgs with "
        "its private per-layer buffers; skcnn's loss and gradient (all solvers, "
        "all activations, both output heads) are checked against finite "
        "differences in tests/test_mlp.py"
    ),
}


def _suite_path():
    try:
        spec = importlib.util.find_spec(SUITE)
    except ModuleNotFoundError:
        spec = None
    if spec is None or spec.origin is None:
        pytest.skip(
            f"scikit-learn {sklearn.__version__} was installed without its tests "
            f"({SUITE})",
            allow_module_level=True,
        )
    return Path(spec.origin)


def _names(node) -> set:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


class _ForSkcnn(ast.NodeTransformer):
    """Import skcnn's MLPClassifier; drop the regressor's tests and cases."""

    def visit_ImportFrom(self, node):
        if node.module != "sklearn.neural_network":
            return node
        node.names = [a for a in node.names if a.name != "MLPClassifier"]
        ours = ast.ImportFrom("skcnn", [ast.alias("MLPClassifier")], 0)
        return [node, ast.copy_location(ours, node)] if node.names else ours

    def visit_List(self, node):  # parametrize lists: [MLPClassifier, MLPRegressor]
        node.elts = [e for e in node.elts if _names(e) != {"MLPRegressor"}]
        return node

    def visit_FunctionDef(self, node):
        if not node.name.startswith("test_"):
            return node
        self.generic_visit(node)
        used = _names(node)
        if "MLPRegressor" in used and "MLPClassifier" not in used:
            return None  # a regressor test
        return node


def _load_suite(namespace: dict) -> list:
    path = _suite_path()
    source = path.read_text(encoding="utf-8")
    tree = ast.fix_missing_locations(_ForSkcnn().visit(ast.parse(source)))
    filename = f"{path} (MLPClassifier from skcnn)"
    # line numbers are the original file's: tracebacks show its lines
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    exec(compile(tree, filename, "exec"), namespace)
    tests = sorted(name for name in namespace if name.startswith("test_"))
    for name in EXCEPTED:
        if name in namespace:
            reason = EXCEPTED[name]
            namespace[name] = pytest.mark.xfail(strict=True, reason=reason)(
                namespace[name]
            )
    return tests


SUITE_TESTS = _load_suite(globals())


def test_the_suite_is_scikit_learns_and_runs_on_skcnn():
    """The generated suite holds the classifier's tests and uses skcnn's class."""
    from skcnn import MLPClassifier

    assert globals()["MLPClassifier"] is MLPClassifier
    # scikit-learn 1.6 to 1.9 hold 30 to 34 tests of the classifier
    assert len(SUITE_TESTS) >= 25, SUITE_TESTS
    assert "test_lbfgs_classification" in SUITE_TESTS
    assert "test_lbfgs_regression" not in SUITE_TESTS
