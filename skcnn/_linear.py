"""The linear softmax classifier: a network with no hidden layer."""

from skcnn._layers import Dense
from skcnn._network import BaseNetworkClassifier, document_training


@document_training(lr="0.01", max_iter="200", tol="1e-3", n_iter_no_change="2")
class LinearSoftmaxClassifier(BaseNetworkClassifier):
    """Linear classifier ``f(x) = W x + b`` with a softmax over the class scores.

    Trained by minibatch Adam or SGD on the cross-entropy loss, with the shared
    training engine of skcnn (early stopping, ``partial_fit``, ``warm_start``,
    sample and class weights). Each row of ``coef_`` is one image-shaped template
    per class.

    Parameters
    ----------
    <training parameters>

    Attributes
    ----------
    coef_ : ndarray of shape (n_classes, n_features)
        Weights ``W``; ``coef_[c].reshape(image_shape_)`` is the template of class
        ``classes_[c]``.
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
    0.90
    """

    def _build_layers(self, in_shape, n_classes):
        return [Dense(n_classes)]

    @property
    def coef_(self):
        return self.params_[0][0].T

    @property
    def intercept_(self):
        return self.params_[0][1]
