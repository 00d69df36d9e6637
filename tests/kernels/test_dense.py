"""The float32 tanh kernel against float64 tanh."""

import numba
import numpy as np
import pytest

from skcnn._kernels._dense import tanh_float32
from skcnn.layers import Activation


def _tanh(values):
    out = np.array(values, dtype=np.float32)
    tanh_float32(out)
    return out


def test_tanh_float32_is_within_4e7_of_tanh():
    grid = np.linspace(-12, 12, 400_001, dtype=np.float32)
    # from 1e-30 up: smaller inputs make subnormal intermediates (x * p(x²))
    tiny = np.float32(10.0) ** np.arange(-30, 0, 0.05, dtype=np.float32)
    x = np.concatenate([grid, tiny, -tiny])
    exact = np.tanh(x.astype(np.float64))
    np.testing.assert_allclose(_tanh(x), exact, rtol=0, atol=4e-7)
    assert np.abs(_tanh(x)).max() <= 1  # never outside [-1, 1]
    # near zero the error is relative: a few float32 ulps
    np.testing.assert_allclose(_tanh(tiny), exact[len(grid) : -len(tiny)], rtol=4e-7)


def test_tanh_float32_special_values():
    out = _tanh([np.nan, np.inf, -np.inf, 0.0, -0.0, 20.0])
    assert np.isnan(out[0])
    np.testing.assert_array_equal(out[1:], [1, -1, 0, 0, 1])


@pytest.mark.parametrize("offset", [0, 1, 7, 4095])
def test_tanh_float32_rounds_each_element_alike_anywhere(offset):
    """Vector body, scalar remainder, block edge or thread: the same bits."""
    x = np.random.default_rng(offset).standard_normal(9000).astype(np.float32)
    whole = _tanh(x)
    previous = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        part = _tanh(x[offset : offset + 4100])
    finally:
        numba.set_num_threads(previous)
    np.testing.assert_array_equal(part, whole[offset : offset + 4100])


def test_activation_uses_the_kernel_for_float32_and_numpy_otherwise():
    x = np.random.default_rng(0).standard_normal((5, 7))
    out64, _ = Activation("tanh").forward(x.copy(), [])
    np.testing.assert_array_equal(out64, np.tanh(x))  # float64: numpy's tanh
    out32, _ = Activation("tanh").forward(x.astype(np.float32), [])
    np.testing.assert_array_equal(out32, _tanh(x))
    strided = x.astype(np.float32)[:, ::2]  # not contiguous: numpy's float32 tanh
    out, _ = Activation("tanh").forward(strided.copy(order="F")[:, :], [])
    np.testing.assert_allclose(out, np.tanh(x[:, ::2]), atol=4e-7)
