"""numpy basic indexing on datasets, checked against numpy (examples and properties)."""

from __future__ import annotations

import itertools

import hypothesis.extra.numpy as hnp
import numpy as np
import pytest
import z5py
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from z5py import errors
from z5py.shape_utils import default_chunks, normalize_index

# ------------------------------------------------------------------------------------------
# shape_utils


def test_normalize_index_basic():
    sel = normalize_index((1, slice(2, None), Ellipsis), (5, 6, 7))
    assert sel.start == (1, 2, 0)
    assert sel.shape == (1, 4, 7)
    assert sel.counts == (1, 4, 7)
    assert sel.out_shape == (4, 7)
    assert sel.steps is None and not sel.scalar and not sel.empty


def test_normalize_index_steps_and_negative_steps():
    sel = normalize_index(np.s_[1:8:3], (10,))
    assert (sel.start, sel.shape, sel.counts) == ((1,), (7,), (3,))
    assert np.arange(10)[1:8][sel.steps].tolist() == [1, 4, 7]
    sel = normalize_index(np.s_[::-2], (5,))
    assert (sel.start, sel.shape, sel.counts) == ((0,), (5,), (3,))
    assert np.arange(5)[sel.steps].tolist() == [4, 2, 0]


def test_normalize_index_scalar_empty_newaxis():
    assert normalize_index((2, -1), (3, 4)).scalar
    assert normalize_index((), ()).scalar
    assert not normalize_index(Ellipsis, ()).scalar
    assert not normalize_index((2, -1, Ellipsis), (3, 4)).scalar
    assert normalize_index(np.s_[3:1], (5,)).empty
    assert normalize_index((None, 1, None), (3, 4)).out_shape == (1, 1, 4)


@pytest.mark.parametrize(
    ("index", "error"),
    [
        (5, IndexError),
        (-6, IndexError),
        ((0, 0), IndexError),
        ((Ellipsis, 0, Ellipsis), IndexError),
        ([0, 1], TypeError),
        (np.array([0, 1]), TypeError),
        (1.5, TypeError),
        (True, TypeError),
        ("a", TypeError),
        (np.s_[::0], ValueError),
    ],
)
def test_normalize_index_errors(index, error):
    with pytest.raises(error):
        normalize_index(index, (5,))


def test_default_chunks():
    assert default_chunks((10**7,)) == (262144,)
    assert default_chunks((10**4, 10**4)) == (512, 512)
    assert default_chunks((10**3,) * 3) == (64, 64, 64)
    assert default_chunks((7, 0, 1000)) == (7, 1, 64)
    assert default_chunks(()) == ()


# ------------------------------------------------------------------------------------------
# example-based dataset indexing


@pytest.fixture
def filled(f):
    """A 3-d int dataset with uneven chunks, filled with a known array, and that array."""
    data = np.arange(7 * 9 * 11, dtype="i4").reshape(7, 9, 11)
    ds = f.create_dataset("x", data=data, chunks=(3, 4, 5))
    return ds, data


READ_INDICES = [
    np.s_[:],
    np.s_[...],
    np.s_[2],
    np.s_[-1],
    np.s_[1:5],
    np.s_[-3:],
    np.s_[-5:-2, 3],
    np.s_[:, -1, 2:9],
    np.s_[..., 4],
    np.s_[1, ..., 2:3],
    np.s_[1, 2, 3],
    np.s_[-1, -1, -1],
    np.s_[::2],
    np.s_[1::3, ::4, 10:0:-3],
    np.s_[::-1, 4, ::-2],
    np.s_[None, 1],
    np.s_[2, None, :, None],
    np.s_[5:100, -100:3],
    np.s_[4:2],
    np.s_[:, 9:],
    np.s_[()],
]


@pytest.mark.parametrize("index", READ_INDICES, ids=repr)
def test_read_matches_numpy(filled, index):
    ds, data = filled
    got = ds[index]
    expected = data[index]
    assert type(got) is type(expected)
    assert np.shape(got) == np.shape(expected)
    np.testing.assert_array_equal(got, expected)


def test_scalar_reads_are_numpy_scalars(filled):
    ds, data = filled
    value = ds[1, 2, 3]
    assert isinstance(value, np.int32) and value == data[1, 2, 3]


def test_empty_selection_does_not_touch_disk(f):
    ds = f.create_dataset("x", shape=(6, 6), chunks=(3, 3), dtype="u1")
    assert ds[3:3].shape == (0, 6) and ds[3:3].dtype == np.uint8
    ds[:, 4:2] = np.zeros((6, 0))
    ds[2:2] = 5
    assert not any(ds.chunk_exists(c) for c in itertools.product(range(2), range(2)))


@pytest.mark.parametrize("index", [np.s_[7], np.s_[-8], np.s_[0, 9], np.s_[0, 0, 11]])
def test_out_of_bounds_int_raises_indexerror(filled, index):
    ds, _ = filled
    with pytest.raises(IndexError, match="out of bounds"):
        ds[index]
    with pytest.raises(IndexError):
        ds[index] = 0


def test_unsupported_indices(filled):
    ds, _ = filled
    # index arrays and masks are supported (tests/test_fancy_indexing.py); these are not
    for index in (np.array([True] * 6), 1.0, (0, 0, 0, 0), "a"):
        with pytest.raises((TypeError, IndexError)):
            ds[index]
    with pytest.raises(TypeError, match="integer arrays"):
        ds[1.5] = 1


WRITE_CASES = [
    (np.s_[:], lambda shape: np.ones(shape)),
    (np.s_[2], lambda shape: 5),
    (np.s_[1:4, -3:], lambda shape: np.arange(np.prod(shape)).reshape(shape)),
    (np.s_[..., 3], lambda shape: -np.ones(shape[-1:])),  # broadcast along the leading axes
    (np.s_[0, 0, 0], lambda shape: 42),
    (np.s_[::2, 1, ::3], lambda shape: np.full(shape, 9)),
    (np.s_[::-1, :2], lambda shape: np.arange(np.prod(shape)).reshape(shape)),
    (np.s_[None, 3], lambda shape: 7),
    (np.s_[-2:, :, -1], lambda shape: np.arange(shape[-1])),
    (np.s_[1, 2], lambda shape: np.ones((1, 1) + shape)),  # extra leading unit axes
]


@pytest.mark.parametrize(("index", "make_value"), WRITE_CASES, ids=lambda x: repr(x)[:30])
def test_write_matches_numpy(filled, index, make_value):
    ds, data = filled
    expected = data.copy()
    value = make_value(expected[index].shape)
    ds[index] = value
    expected[index] = value
    np.testing.assert_array_equal(ds[:], expected)


def test_broadcast_writes_are_done_in_bounded_slabs(filled, monkeypatch):
    ds, data = filled
    monkeypatch.setattr(z5py.dataset, "WRITE_SLAB_BYTES", 300)
    calls = []
    handle = ds._handle

    class CountingHandle:
        def __getattr__(self, name):
            return getattr(handle, name)

        def write_from(self, start, array, n_threads):
            calls.append((tuple(start), array.shape))
            handle.write_from(start, array, n_threads)

    monkeypatch.setattr(ds, "_handle", CountingHandle())
    ds[1:, 2:7] = 5
    data[1:, 2:7] = 5
    np.testing.assert_array_equal(ds[:], data)
    # rows 1..6 in slabs aligned to the chunk grid (3 rows per chunk)
    assert calls == [((1, 2, 0), (2, 5, 11)), ((3, 2, 0), (3, 5, 11)), ((6, 2, 0), (1, 5, 11))]


def test_write_shape_mismatch(filled):
    ds, data = filled
    with pytest.raises(errors.InvalidArgumentError, match="broadcast"):
        ds[0:2] = np.ones((3, 9, 11))
    with pytest.raises(ValueError):
        ds[7:9] = np.ones(4)  # the slice is clipped to 0 rows
    np.testing.assert_array_equal(ds[:], data)


def test_write_casting_follows_numpy(f):
    floats = f.create_dataset("f", shape=(4,), dtype="f4")
    floats[:] = np.arange(4, dtype="i8")
    np.testing.assert_array_equal(floats[:], [0, 1, 2, 3])
    ints = f.create_dataset("i", shape=(4,), dtype="i2")
    ints[:] = np.array([1.9, -1.9, 2.5, 0.0])
    np.testing.assert_array_equal(ints[:], [1, -1, 2, 0])
    ints[:2] = [7, 8]
    np.testing.assert_array_equal(ints[:], [7, 8, 2, 0])
    with pytest.raises(OverflowError):
        ints[0] = 10**6
    with pytest.raises(TypeError):
        ints[0] = "text"
    with pytest.raises(TypeError):
        ints[:] = np.array(["a", "b", "c", "d"])
    ints[:] = floats  # a dataset is a valid source
    np.testing.assert_array_equal(ints[:], [0, 1, 2, 3])


def test_index_to_roi(filled):
    ds, _ = filled
    assert ds.index_to_roi(np.s_[1:3, 2]) == ((1, 2, 0), (2, 1, 11))
    assert ds.index_to_roi(np.s_[..., 1:]) == ((0, 0, 1), (7, 9, 10))
    assert ds.index_to_roi(np.s_[-1]) == ((6, 0, 0), (1, 9, 11))
    assert ds.index_to_roi(np.s_[::3]) == ((0, 0, 0), (7, 9, 11))


# ------------------------------------------------------------------------------------------
# property tests against numpy


_counter = itertools.count()


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    """A directory shared by all examples of the property tests (datasets get unique names)."""
    return tmp_path_factory.mktemp("properties")


@st.composite
def dataset_cases(draw):
    """A format, a shape, chunks fitting it, and data."""
    fmt = draw(st.sampled_from(["n5", "zarr2", "zarr3"]))
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=9))
    chunks = tuple(draw(st.integers(1, side + 2)) for side in shape)
    data = np.arange(int(np.prod(shape)), dtype="i4").reshape(shape) * 3 - 40
    return fmt, shape, chunks, data


def _make_dataset(workdir, fmt: str, chunks, data) -> z5py.Dataset:
    path = workdir / (f"{fmt}.n5" if fmt == "n5" else f"{fmt}.zarr")
    f = z5py.File(path, zarr_format=None if fmt == "n5" else int(fmt[-1]))
    return f.create_dataset(f"d{next(_counter)}", data=data, chunks=chunks, compression="raw")


PROPERTY_SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


@PROPERTY_SETTINGS
@given(case=dataset_cases(), index_data=st.data())
def test_property_read(workdir, case, index_data):
    fmt, shape, chunks, data = case
    ds = _make_dataset(workdir, fmt, chunks, data)
    index = index_data.draw(hnp.basic_indices(shape, allow_newaxis=True, allow_ellipsis=True))
    got = ds[index]
    expected = data[index]
    assert np.shape(got) == np.shape(expected)
    assert np.isscalar(got) == np.isscalar(expected)
    np.testing.assert_array_equal(got, expected)


@PROPERTY_SETTINGS
@given(case=dataset_cases(), index_data=st.data())
def test_property_write(workdir, case, index_data):
    fmt, shape, chunks, data = case
    ds = _make_dataset(workdir, fmt, chunks, data)
    index = index_data.draw(hnp.basic_indices(shape, allow_newaxis=True, allow_ellipsis=True))
    target_shape = data[index].shape
    # a full-shape value, or one broadcast from a trailing sub-shape or a scalar
    broadcast_dims = index_data.draw(st.integers(0, len(target_shape)))
    value_shape = target_shape[broadcast_dims:]
    value = -np.arange(int(np.prod(value_shape)), dtype="i4").reshape(value_shape) - 1
    expected = data.copy()
    expected[index] = value
    ds[index] = value
    np.testing.assert_array_equal(ds[...], expected)
    np.testing.assert_array_equal(z5py.File(ds.file.path, mode="r")[ds.name[1:]][...], expected)
