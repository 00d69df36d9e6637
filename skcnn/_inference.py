"""Inference of the trained networks: predictions, probabilities, scores.

:class:`NetworkInference` is the part of
:class:`~skcnn._network.BaseNetworkClassifier` that predicts: the forward pass
in batches whose every sample is computed alike (its result never depends on
the rest of the batch), the output head's reading of the logits
(:mod:`skcnn._heads`), the summary table, and the documented accessors the
ONNX export and the displays use (``layer_names_``, ``states_``,
``compute_dtype_``).
"""

import numpy as np
from scipy import sparse
from sklearn.utils.validation import check_is_fitted

from skcnn._heads import head_of
from skcnn._images import check_compute_range, validate_images
from skcnn._kernels._jit import parallel_section
from skcnn._layers import Residual, run_forward, walk_shapes

INPUT_DTYPES = [np.float64, np.float32, np.uint8]
"""Kept as given by validation (other dtypes become float64); batches are then
converted to the compute dtype one at a time."""


class NetworkInference:
    """The predicting half of the networks' estimator base class (a mixin)."""

    def decision_function(self, X):
        """Class scores (logits) before the softmax or the sigmoid.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features) or \
                image array
            Images.

        Returns
        -------
        scores : ndarray of shape (n_samples, n_classes), (n_samples, n_labels) \
                or (n_samples,)
            For two classes, one score per sample: positive means
            ``classes_[1]`` (the second class's logit minus the first's with a
            softmax output), as in scikit-learn.
        """
        logits = self._logits(X)  # first: checks that the model is fitted
        return self._head.decision(logits)

    def predict_proba(self, X):
        """Probability of each class (of each label, for multilabel models).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features) or \
                image array
            Images.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            float64, columns in the order of ``classes_``. Rows sum to 1,
            except for multilabel models, whose columns are the independent
            probabilities of each label.
        """
        logits = self._logits(X)  # first: checks that the model is fitted
        return self._head.proba(logits)

    def predict_log_proba(self, X):
        """Logarithm of :meth:`predict_proba`, computed stably.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features) or \
                image array
            Images.

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
            float64 log-probabilities.
        """
        logits = self._logits(X)  # first: checks that the model is fitted
        return self._head.log_proba(logits)

    def predict(self, X):
        """Predict the class of each image (its labels, for multilabel models).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features) or \
                image array
            Images.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,) or (n_samples, n_labels)
            The class with the largest score (the first one on ties); for
            multilabel models, a 0/1 indicator matrix (probability > 0.5).
        """
        logits = self._logits(X)  # first: checks that the model is fitted
        head = self._head
        decided = head.decide(logits)
        return decided.astype(int) if head.multilabel else self.classes_[decided]

    @property
    def layer_names_(self) -> list:
        """A short name for each of ``layers_``, as the summary shows them."""
        check_is_fitted(self)
        return self._layer_names()

    @property
    def states_(self) -> list:
        """Each layer's state that is not trained (running statistics)."""
        check_is_fitted(self)
        return self._state

    @property
    def compute_dtype_(self) -> np.dtype:
        """The dtype of the fitted weights, which inference computes in."""
        check_is_fitted(self)
        return self._packed.dtype

    # scikit-learn's MLP keeps these two as attributes, and its own tests (which
    # tests/test_sklearn_mlp_suite.py runs against skcnn) read them
    @property
    def _head(self):
        """The output head (:mod:`skcnn._heads`) of the fitted network."""
        return head_of(self)

    def summary(self) -> str:
        """Each layer with its output shape and number of parameters, as a table.

        Returns
        -------
        table : str
            One line per layer (output shapes exclude the sample axis; feature
            maps are ``(height, width, channels)``) and a total; call after
            ``fit``.
        """
        check_is_fitted(self)
        rows = [("", "layer", "output shape", "parameters")]
        shape = (self.n_features_in_,)
        for name, layer in zip(self.layer_names_, self.layers_, strict=True):
            n_params, out_shape = layer.n_params(shape), layer.output_shape(shape)
            if isinstance(layer, Residual):  # its layers below it, indented
                rows.append((name, "Residual([", str(out_shape), f"{n_params:,}"))
                for index, (part, part_shape) in enumerate(layer.parts(shape)):
                    label = f"  {part!r}" if index < len(layer.layers) else (
                        f"  shortcut: {part!r}")  # fmt: skip
                    rows.append(("", label, str(part.output_shape(part_shape)), ""))
                rows.append(("", "])", "", ""))
            else:
                rows.append((name, repr(layer), str(out_shape), f"{n_params:,}"))
            shape = out_shape
        total = sum(p.size for params in self.params_ for p in params)
        rows.append(("total", "", "", f"{total:,}"))
        widths = [max(len(row[i]) for row in rows) for i in range(4)]
        return "\n".join(
            f"{a:<{widths[0]}}  {b:<{widths[1]}}  {c:<{widths[2]}}  {d:>{widths[3]}}"
            for a, b, c, d in rows
        )

    def _test_time_views(self, rows) -> list:
        """The copies of a batch of rows whose outputs :meth:`_logits`
        averages: the rows themselves (estimators with test-time augmentation
        add theirs)."""
        return [rows]

    def _forward(self, X, n_layers=None, rows=None, params=None, views=False):
        """Output of the first ``n_layers`` layers (all: the logits) on validated X
        (its ``rows`` only, when given), with ``params`` (default ``params_``);
        with ``views``, the mean output over :meth:`_test_time_views`.

        Runs in batches of ``_predict_batch`` rows, each converted to the compute
        dtype and padded with zero rows to a multiple of ``_lanes``, with
        row-independent arithmetic: a sample's output does not depend on the
        rest of the batch.
        """
        params = self.params_ if params is None else params
        stack = list(zip(self.layers_, params, strict=True))[:n_layers]
        dtype = self._packed.dtype
        chunks = []
        n = X.shape[0] if rows is None else len(rows)
        for lo in range(0, n, self._predict_batch):
            part = slice(lo, lo + self._predict_batch)
            out = X[part if rows is None else rows[part]].astype(dtype, copy=False)
            n_rows = out.shape[0]
            if n_rows % self._lanes:
                pad = self._lanes - n_rows % self._lanes
                out = np.concatenate([out, np.zeros((pad, *out.shape[1:]), out.dtype)])
            copies = self._test_time_views(out) if views else [out]
            total = None
            for out in copies:  # summed in order, then divided: any batch alike
                for (layer, params), state in zip(stack, self._state, strict=False):
                    out, _ = run_forward(layer, out, params, False, state=state)
                total = out if total is None else total + out
            if len(copies) > 1:
                total /= dtype.type(len(copies))
            chunks.append(total[:n_rows])
        if not chunks:
            shape = walk_shapes([layer for layer, _ in stack], (X.shape[1],))[-1]
            return np.empty((0, *shape), dtype=dtype)
        return np.concatenate(chunks)

    def _logits(self, X, n_layers=None):
        check_is_fitted(self)
        X = validate_images(
            self, X, reset=False, dtype=INPUT_DTYPES, accept_sparse=self._accept_sparse
        )
        check_compute_range(X, self._packed.dtype)
        params = self._checked_params()  # weights a user assigned, if any
        with parallel_section(self.n_jobs):
            return self._forward(
                X.tocsr() if sparse.issparse(X) else X, n_layers, params=params,
                views=n_layers is None,
            )  # fmt: skip
