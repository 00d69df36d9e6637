"""LeNet-5, the convolutional network of LeCun et al. (1998)."""

from numbers import Integral

from sklearn.utils._param_validation import Interval, StrOptions

from skcnn._convnet import CONVNET_TRAINING, BaseConvNetClassifier
from skcnn._layers import (
    ACTIVATIONS,
    POOLING,
    Activation,
    Conv2D,
    Dense,
    Flatten,
    ImageInput,
    Pool2D,
    RandomAffine,
)
from skcnn._parameters import training_estimator


def input_field(height: int, width: int) -> int:
    """Side of the square input field of LeNet-5 for images of height x width.

    The smallest multiple of 4 that is at least 32 and at least both sides: 32
    for MNIST's 28x28 (the paper's padding of 2 pixels), for CIFAR-10's 32x32
    and for anything smaller. A multiple of 4 keeps both 2x2 poolings whole.
    """
    side = max(32, height, width)
    return side + (-side) % 4


@training_estimator(
    {
        "c1_channels": 6,
        "c3_channels": 16,
        "c5_channels": 120,
        "f6_units": 84,
        "activation": "tanh",
        "pooling": "avg",
        "normalize": True,
        "augment": None,
        "test_time_augmentation": None,
    },
    **CONVNET_TRAINING,
)
class LeNet5Classifier(BaseConvNetClassifier):
    """LeNet-5 convolutional network (LeCun et al., 1998), numba kernels.

    ======  ===========================  =================  ==============
    layer   operation                    output (MNIST)     parameters
    ======  ===========================  =================  ==============
    input   images centred in a field    ``1@32x32``        0
    C1      ``c1_channels`` conv 5x5     ``6@28x28``        156
    S2      2x2 pooling, stride 2        ``6@14x14``        0
    C3      ``c3_channels`` conv 5x5     ``16@10x10``       2,416
    S4      2x2 pooling, stride 2        ``16@5x5``         0
    C5      ``c5_channels`` conv over    ``120@1x1``        48,120
            all of S4
    F6      ``f6_units`` dense           84                 10,164
    output  dense, softmax               10                 850
    ======  ===========================  =================  ==============

    Each convolution and F6 is followed by ``activation``. Images of any size
    and any number of channels (gray, RGB) are accepted: they are centred,
    zero-padded, in a square field whose side is the smallest multiple of 4
    that is at least 32 and at least the image's height and width (28x28 MNIST
    gets the paper's 2-pixel border); C5's filters span whatever S4 leaves, so
    C5 always outputs 1x1 maps. Flat rows are read as images through
    ``image_shape`` (inferred when None: square gray, square RGB, else one row).

    Parameters
    ----------
    c1_channels : int, default=6
        Feature maps of C1.
    c3_channels : int, default=16
        Feature maps of C3 (each connected to every map of S2).
    c5_channels : int, default=120
        Feature maps of C5.
    f6_units : int, default=84
        Units of F6: the features returned by :meth:`transform`.
    activation : {'tanh', 'relu', 'logistic', 'sigmoid'}, default='tanh'
        Nonlinearity after C1, C3, C5 and F6.
    pooling : {'avg', 'max'}, default='avg'
        S2 and S4: average pooling (the paper's subsampling, without its
        trainable coefficient and bias) or max pooling.
    normalize : bool, default=True
        Standardise the input as the paper does (mean about 0, variance about
        1): the padded field's values ``v`` become ``(v - input_mean_) *
        input_scale_``, learned from the first training set over all pixels
        (one number each, not per pixel; estimated on at most 2,000 evenly
        spaced rows). Pixels in [0, 1] or in [0, 255] then train alike.
    augment : bool, dict or None, default=None
        Random affine distortions of each training image in every minibatch
        (never at predict), as LeCun et al. trained their best LeNet-5: True
        for ``{'shift': 0.1, 'rotation': 10, 'scale': 0.1}`` (shift as a
        fraction of the image's side, rotation in degrees, relative scaling),
        a dict for other amounts (missing keys mean no such distortion), None
        or False for none.
    <test-time augmentation>
    <training parameters>

    Attributes
    ----------
    input_mean_ : float
        Mean of the training pixels (0 when ``normalize=False``).
    input_scale_ : float
        One over their standard deviation (1 when ``normalize=False``).
    <trained attributes>

    See Also
    --------
    MLPClassifier : dense layers only.

    Notes
    -----
    Differences from the paper: the output layer is a dense layer with a softmax
    and the cross-entropy loss (instead of Euclidean RBF units), C3 connects
    every map of S2 (instead of a fixed table, so 2,416 parameters instead of
    1,516), S2/S4 have no trainable coefficients, and the activation is plain
    tanh instead of 1.7159 tanh(2a/3).

    Convolution and pooling run as numba kernels on batch-last feature maps,
    on ``n_jobs`` threads. During ``fit`` BLAS (used by F6 and the output
    layer only) is held to one thread by threadpoolctl, so that the two thread
    pools never compete for the cores.

    References
    ----------
    Y. LeCun, L. Bottou, Y. Bengio and P. Haffner, "Gradient-based learning
    applied to document recognition", Proc. IEEE 86(11), 1998.

    Examples
    --------
    >>> from skcnn import LeNet5Classifier
    >>> from skcnn.datasets import load_digits_images
    >>> X, y = load_digits_images(return_X_y=True, scale=True)
    >>> clf = LeNet5Classifier(random_state=0).fit(X[:1500], y[:1500])
    >>> clf.transform(X[1500:1502]).shape
    (2, 84)
    >>> print(f"{clf.score(X[1500:], y[1500:]):.2f}")
    0.87
    """

    _parameter_constraints: dict = {
        **BaseConvNetClassifier._parameter_constraints,
        "c1_channels": [Interval(Integral, 1, None, closed="left")],
        "c3_channels": [Interval(Integral, 1, None, closed="left")],
        "c5_channels": [Interval(Integral, 1, None, closed="left")],
        "f6_units": [Interval(Integral, 1, None, closed="left")],
        "activation": [StrOptions(set(ACTIVATIONS))],
        "pooling": [StrOptions(set(POOLING))],
    }

    def _build_layers(self, in_shape, n_classes):
        side = input_field(*in_shape[:2])
        s4 = (side - 12) // 4  # what S4 leaves: C5's filters span all of it
        act, pool = self.activation, POOLING[self.pooling]
        return [
            *self._input_layers(in_shape, (side, side)),
            Conv2D(self.c1_channels, 5), Activation(act), pool(2),       # C1, S2
            Conv2D(self.c3_channels, 5), Activation(act), pool(2),       # C3, S4
            Conv2D(self.c5_channels, s4), Activation(act), Flatten(),    # C5
            Dense(self.f6_units), Activation(act),                       # F6
            Dense(n_classes),                                            # output
        ]  # fmt: skip

    def _layer_names(self):
        paper = iter(["C1", "S2", "C3", "S4", "C5", "F6", "output"])
        inputs = {ImageInput: "input", RandomAffine: "augment"}
        return [
            inputs.get(type(layer))
            or (next(paper) if isinstance(layer, (Conv2D, Pool2D, Dense)) else "")
            for layer in self.layers_
        ]
