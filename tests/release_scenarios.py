"""Training scenarios whose every result a refactoring must leave bit-identical.

Run by ``tests/test_release.py`` in a fresh process, once with the release the
engine was refactored from (extracted from git) and once with the working tree:

- ``write OUT``: runs each scenario (fit, partial_fit, warm start, L-BFGS, early
  stopping, class and sample weights, multilabel and binary outputs, LeNet-5, a
  ConvNet with dropout, a checkpointed fit that crashes and resumes) and writes
  to ``OUT`` every learned attribute and prediction as ``<name>.npz``, the
  fitted estimator as a pickle and a skops file, and the crashed run's
  checkpoint folder;
- ``load SRC OUT``: reads what a ``write`` left in ``SRC`` (files of either
  version), continues from it (one more ``partial_fit`` epoch or ``fit``, the
  resumed checkpointed fit) and writes those results to ``OUT``.

Only public names and files are used, so that both versions run it alike.
"""

import pickle
import shutil
import sys
import warnings
from pathlib import Path

import numpy as np

from skcnn import (
    ConvNetClassifier,
    LeNet5Classifier,
    LinearSoftmaxClassifier,
    MLPClassifier,
)
from skcnn.datasets import load_digits_images, load_mnist_sample


def _digits():
    X, y = load_digits_images(return_X_y=True, scale=True)
    return X[:600], y[:600], X[600:700]


def _mnist():
    X, y = load_mnist_sample(return_X_y=True)
    return X[:320], y[:320], X[320:400]


def _mlp(**params):
    return MLPClassifier((16,), **{"max_iter": 3, "random_state": 0, **params})


def _fitted(estimator, X, y, **fit_params):
    return estimator.fit(X, y, **fit_params)


def _partial(estimator, X, y):
    classes = np.unique(y)
    estimator.partial_fit(X[:300], y[:300], classes=classes)
    estimator.partial_fit(X[300:], y[300:])
    return estimator.partial_fit(X, y)


def _warm(estimator, X, y):
    return estimator.fit(X, y).fit(X, y)


def _multilabel(y):
    return np.column_stack([y % 2, y > 4, y == 0]).astype(int)


# name -> (data, estimator factory, how it trains, how y is encoded)
SCENARIOS = {
    "mlp-adam": (_digits, lambda: _mlp(), _fitted, None),
    "mlp-sgd-partial": (
        _digits,
        lambda: _mlp(solver="sgd", learning_rate="invscaling", momentum=0.5),
        _partial,
        None,
    ),
    "mlp-warm-start": (_digits, lambda: _mlp(warm_start=True), _warm, None),
    "mlp-lbfgs": (_digits, lambda: _mlp(solver="lbfgs", max_iter=8), _fitted, None),
    "mlp-early-stopping": (
        _digits,
        lambda: _mlp(
            early_stopping=True,
            learning_rate="adaptive",
            class_weight="balanced",
            n_iter_no_change=1,
            tol=0.2,
            max_iter=5,
        ),
        _fitted,
        None,
    ),
    "mlp-multilabel": (_digits, lambda: _mlp(alpha=1e-2), _fitted, _multilabel),
    "mlp-binary": (_digits, lambda: _mlp(), _fitted, lambda y: y % 2),
    "linear-weighted": (
        _digits,
        lambda: LinearSoftmaxClassifier(max_iter=3, random_state=0),
        lambda est, X, y: est.fit(X, y, sample_weight=1.0 + (np.arange(len(y)) % 3)),
        None,
    ),
    "lenet-augment": (
        _mnist,
        lambda: LeNet5Classifier(max_iter=1, augment=True, random_state=0),
        _fitted,
        None,
    ),
    "convnet-dropout": (
        _digits,
        lambda: ConvNetClassifier(
            (8, 8),
            kernel_size=3,
            hidden_layer_sizes=(16,),
            dropout=0.3,
            max_iter=2,
            random_state=0,
        ),
        _fitted,
        None,
    ),
}

CHECKPOINTED = "mlp-early-stopping"
"""The scenario also trained with ``checkpoint=``: crashed after epoch 2
(checkpoint of epoch 1 kept), then resumed."""


class _Crash(Exception):
    pass


class _CrashAfter:
    """A scikit-learn callback that raises at the end of epoch ``epochs``."""

    def __init__(self, epochs):
        self.epochs = epochs

    def setup(self, estimator, context):
        pass

    def teardown(self, estimator, context):
        pass

    def on_fit_task_begin(self, estimator, context):
        pass

    def on_fit_task_end(self, estimator, context):
        if context.task_name == "epoch" and estimator.n_iter_ >= self.epochs:
            raise _Crash
        return False


def _flat(prefix, value, out):
    """Every array inside ``value`` (lists, dicts, objects' reprs) into ``out``."""
    if isinstance(value, np.ndarray):
        out[prefix] = value
    elif isinstance(value, (list, tuple)):
        out[prefix + ".len"] = np.asarray(len(value))
        for i, item in enumerate(value):
            _flat(f"{prefix}.{i}", item, out)
    elif isinstance(value, dict):
        for key in sorted(value, key=str):
            _flat(f"{prefix}.{key}", value[key], out)
    elif value is None or isinstance(value, (bool, int, float, str, np.generic)):
        out[prefix] = np.asarray(value if value is not None else "None")
    elif isinstance(value, np.random.Generator):
        _flat(prefix, value.bit_generator.state, out)
    elif isinstance(value, np.random.RandomState):
        _flat(prefix, value.get_state(legacy=False), out)
    else:
        out[prefix] = np.asarray(repr(value))


def results(estimator, X_test):
    """The learned attributes (public, trailing underscore) and the predictions."""
    out = {}
    for name, value in sorted(vars(estimator).items()):
        if name.endswith("_") and not name.startswith("_"):
            _flat(name, value, out)
    out["predict_proba"] = estimator.predict_proba(X_test)
    out["predict"] = np.asarray(estimator.predict(X_test))
    return {key.replace("/", "|"): value for key, value in out.items()}


def _save(folder, name, arrays):
    np.savez(folder / f"{name}.npz", **arrays)


def _data(name):
    data, _, _, encode = SCENARIOS[name]
    X, y, X_test = data()
    return X, (y if encode is None else encode(y)), X_test


def _train(name, **params):
    """The scenario's estimator (with ``params`` set) trained as it says."""
    _, make, train, _ = SCENARIOS[name]
    X, y, _ = _data(name)
    estimator = make().set_params(**params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return train(estimator, X, y)


def write(out):
    import skops.io

    for name in SCENARIOS:
        estimator = _train(name)
        _save(out, name, results(estimator, _data(name)[2]))
        (out / f"{name}.pkl").write_bytes(pickle.dumps(estimator))
        skops.io.dump(estimator, out / f"{name}.skops")
    folder = out / f"{CHECKPOINTED}.checkpoints"
    _, make, train, _ = SCENARIOS[CHECKPOINTED]
    crashing = make().set_params(checkpoint=folder).set_callbacks(_CrashAfter(2))
    X, y, _ = _data(CHECKPOINTED)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            train(crashing, X, y)
    except _Crash:
        pass
    else:
        raise AssertionError("the checkpointed fit did not crash")


def _continue(estimator, X, y):
    """One more epoch: ``partial_fit`` where the model allows it, else a warm
    ``fit`` (L-BFGS, early stopping)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if estimator.solver == "lbfgs" or estimator.early_stopping:
            return estimator.set_params(warm_start=True).fit(X, y)
        return estimator.partial_fit(X, y)


def load(source, out):
    import skops.io

    for name in SCENARIOS:
        X, y, X_test = _data(name)
        for kind in ("pkl", "skops"):
            path = source / f"{name}.{kind}"
            if kind == "pkl":
                estimator = pickle.loads(path.read_bytes())
            else:
                trusted = skops.io.get_untrusted_types(file=path)
                estimator = skops.io.load(path, trusted=trusted)
            arrays = {f"loaded.{k}": v for k, v in results(estimator, X_test).items()}
            arrays.update(results(_continue(estimator, X, y), X_test))
            _save(out, f"{name}.{kind}", arrays)
    folder = out / f"{CHECKPOINTED}.checkpoints"
    shutil.copytree(source / f"{CHECKPOINTED}.checkpoints", folder)
    resumed = _train(CHECKPOINTED, checkpoint=folder)
    _save(out, f"{CHECKPOINTED}.resumed", results(resumed, _data(CHECKPOINTED)[2]))


def main(argv):
    if argv[0] == "write":
        write(Path(argv[1]))
    elif argv[0] == "load":
        load(Path(argv[1]), Path(argv[2]))
    else:
        raise SystemExit(f"usage: {__doc__}")


if __name__ == "__main__":
    main(sys.argv[1:])
