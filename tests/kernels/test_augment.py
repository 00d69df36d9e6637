"""The affine resampling kernel against the plain numpy loops of the reference.

Inputs are read-only throughout (as joblib memmaps and unpickled arrays are),
except in the thread test, which also checks that both compiled variants agree.
"""

import numba
import numpy as np
import pytest

from skcnn._kernels._augment import affine_sample
from tests._reference import affine_sample as affine_sample_reference


def _readonly(*arrays):
    for a in arrays:
        a.flags.writeable = False
    return arrays


def _random_matrices(rng, n, height, width, dtype):
    """Rotations, scalings and shifts about the centre, then a few odd maps.

    The shifts reach 60% of the side and the scalings halve or double, so parts
    of most images come from outside the maps; the last three samples get a
    shear, a map entirely outside and a reflection.
    """
    angle = rng.uniform(-np.pi, np.pi, n)
    scale = rng.uniform(0.5, 2.0, n)
    shift_r, shift_q = rng.uniform(-0.6, 0.6, (2, n)) * [[height], [width]]
    cos, sin = scale * np.cos(angle), scale * np.sin(angle)
    centre_r, centre_q = (height - 1) / 2, (width - 1) / 2
    rows = [cos, -sin, centre_r - cos * centre_r + sin * centre_q + shift_r,
            sin, cos, centre_q - sin * centre_r - cos * centre_q + shift_q]  # fmt: skip
    matrices = np.stack(rows, axis=1)
    matrices[-3:] = [
        [0.8, 0.5, -0.7, -0.3, 1.1, 0.4],
        [1.0, 0.0, 2.0 * height + 1.5, 0.0, 1.0, -0.5],
        [-1.0, 0.0, height - 1, 0.0, 1.0, 0.25],
    ]
    return matrices.astype(dtype)


def _run(x, matrices, fill, readonly=True):
    if readonly:
        x, matrices = _readonly(x.copy(), matrices.copy())
    out = np.full(x.shape, np.nan, x.dtype)  # every element must be written
    affine_sample(x, matrices, x.dtype.type(fill), out)
    return out


@pytest.mark.parametrize(
    ("dtype", "rtol", "atol"), [(np.float64, 1e-12, 1e-12), (np.float32, 1e-5, 1e-4)]
)
@pytest.mark.parametrize(
    ("channels", "height", "width", "n"),
    [(1, 5, 7, 9), (3, 8, 6, 13), (2, 1, 6, 4), (2, 6, 1, 4)],
)
def test_matches_reference(dtype, rtol, atol, channels, height, width, n):
    rng = np.random.default_rng(channels * 100 + height * 10 + width)
    x = rng.standard_normal((channels, height, width, n)).astype(dtype)
    matrices = _random_matrices(rng, n, height, width, dtype)
    fill = dtype(rng.standard_normal())
    out = _run(x, matrices, fill)
    expected = affine_sample_reference(x, matrices, fill)
    np.testing.assert_allclose(out, expected, rtol=rtol, atol=atol)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_identity_returns_the_input_exactly(dtype):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 7, 5, 11)).astype(dtype)
    matrices = np.tile(np.array([1, 0, 0, 0, 1, 0], dtype), (11, 1))
    out = _run(x, matrices, 3.5)
    np.testing.assert_array_equal(out, x)


def test_integer_shift_is_a_roll_with_fill():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((3, 9, 8, 6)).astype(np.float32)
    matrices = np.tile(np.array([1, 0, -2, 0, 1, 3], np.float32), (6, 1))
    out = _run(x, matrices, -1.25)
    # out[r, q] = x[r - 2, q + 3]: two rows down, three columns left
    expected = np.roll(x, (2, -3), axis=(1, 2))
    expected[:, :2] = -1.25
    expected[:, :, -3:] = -1.25
    np.testing.assert_array_equal(out, expected)


def test_positions_far_outside_or_nan_read_fill():
    x = np.ones((1, 4, 5, 3), np.float32)
    matrices = np.array(
        [[0, 0, 1e30, 0, 0, -1e30], [np.nan] * 6, [np.inf, 0, 0, 0, -np.inf, 0]],
        np.float32,
    )
    out = _run(x, matrices, 2.0)
    np.testing.assert_array_equal(out, 2.0)


def test_same_bits_for_any_thread_count_and_batch_position():
    rng = np.random.default_rng(3)
    n = 13  # a vectorised part and a scalar remainder
    x = rng.standard_normal((3, 10, 12, n)).astype(np.float32)
    matrices = _random_matrices(rng, n, 10, 12, np.float32)
    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("needs two numba threads")
    previous = numba.get_num_threads()
    results = []
    for threads in (1, 2):
        numba.set_num_threads(threads)
        try:
            results.append(_run(x, matrices, 0.5, readonly=False))
        finally:
            numba.set_num_threads(previous)
    np.testing.assert_array_equal(results[0], results[1])
    for i in range(n):  # each sample alone: the same bits as within the batch
        alone = _run(np.ascontiguousarray(x[..., i : i + 1]), matrices[i : i + 1], 0.5)
        np.testing.assert_array_equal(alone[..., 0], results[0][..., i])
    order = rng.permutation(n)  # and anywhere in the batch
    shuffled = _run(np.ascontiguousarray(x[..., order]), matrices[order], 0.5)
    np.testing.assert_array_equal(shuffled, results[0][..., order])
