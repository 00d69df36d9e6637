"""The linear softmax classifier: a network with no hidden layer."""

from skcnn._layers import Dense
from skcnn._network import BaseNetworkClassifier
from skcnn._parameters import training_estimator


@training_estimator()
class LinearSoftmaxClassifier(BaseNetworkClassifier):
    """Linear classifier ``f(x) = W x + b`` with a softmax over the class scores.

    Trained by minibatch Adam or SGD, or by full-batch L-BFGS
    (``solver='lbfgs'``), on the cross-entropy loss, with the shared training
    engine of skcnn (early stopping, ``partial_fit``, ``warm_start``, sample
    and class weights), in X's precision by default. Takes sparse X (CSR or
    CSC) as it is, and a 0/1 indicator matrix y as a multilabel problem (one
    sigmoid per label). Each row of ``coef_`` is one image-shaped template per
    class.

    Parameters
    ----------
    <training parameters>

    Attributes
    ----------
    coef_ : ndarray of shape (n_classes, n_features)
        Weights ``W``; ``coef_[c].reshape(image_shape_)`` is the template of class
        ``classes_[c]`` (of label ``c``, multilabel). Assignable, with
        ``intercept_``, to load weights (shapes are checked).
    intercept_ : ndarray of shape (n_classes,)
        Biases ``b``.
    <trained attributes>

    See Also
    --------
    sklearn.linear_model.LogisticRegression : the same model, fitted by lbfgs.
    MLPClassifier : with hidden layers.

    Notes
    -----
    The loss of a minibatch B with sample weights w is

    .. math:: L = \\frac{\\sum_{i \\in B} w_i (\\log \\sum_c e^{z_{ic}} - z_{i y_i})}
              {\\sum_{i \\in B} w_i}
              + \\frac{\\alpha}{2 \\sum_{i \\in B} w_i} \\|W\\|^2,
              \\quad z_i = W x_i + b.

    Examples
    --------
    >>> from skcnn import LinearSoftmaxClassifier
    >>> from skcnn.datasets import load_digits_images
    >>> X, y = load_digits_images(return_X_y=True, scale=True)
    >>> clf = LinearSoftmaxClassifier(random_state=0).fit(X[:1500], y[:1500])
    >>> clf.coef_.shape
    (10, 64)
    >>> print(f"{clf.score(X[1500:], y[1500:]):.2f}")
    0.91
    """

    def _build_layers(self, in_shape, n_classes):
        return [Dense(n_classes)]

    # The weights live in coef_ and intercept_ (assignable, as scikit-learn's
    # linear models'); the training loop and inference read them as params_.
    @property
    def params_(self):
        return [[self.coef_.T, self.intercept_]]

    @params_.setter
    def params_(self, params):
        ((weight, bias),) = params
        self.coef_, self.intercept_ = weight.T, bias

    def _layer_label(self, index: int) -> str:
        return "coef_.T and intercept_"
