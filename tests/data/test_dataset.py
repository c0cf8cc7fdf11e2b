"""convolve.data.Dataset: each method against the same computation written with NumPy, the
cardinality rules of tf.data, and the prefetch thread's lifetime and errors."""
from __future__ import annotations

import gc
import math
import threading

import numpy as np
import pytest

from convolve.data import AUTOTUNE, INFINITE, UNKNOWN, Dataset
from convolve.utils import set_random_seed


def elements(ds):
    """One pass, as a list."""
    return list(ds)


def rows(x, y):
    return Dataset.from_tensor_slices((x, y))


@pytest.fixture
def xy():
    x = np.arange(10 * 3, dtype=np.float32).reshape(10, 3)
    return x, np.arange(10) % 4


def prefetch_threads():
    return {t for t in threading.enumerate() if t.name == "convolve-prefetch" and t.is_alive()}


# ---- sources -----------------------------------------------------------------------------------
def test_from_tensor_slices_gives_the_rows_of_each_array_in_the_structure(xy):
    x, y = xy
    ds = rows(x, y)
    got = elements(ds)
    assert len(ds) == ds.cardinality() == 10 and len(got) == 10
    for i, (xi, yi) in enumerate(got):
        np.testing.assert_array_equal(xi, x[i])
        assert yi == y[i]
    nested = elements(Dataset.from_tensor_slices({"a": x, "b": (y, x[:, 0])}))
    assert nested[3]["b"][0] == y[3] and nested[3]["b"][1] == x[3, 0]
    np.testing.assert_array_equal(nested[3]["a"], x[3])
    assert [int(v) for v in Dataset.from_tensor_slices([5, 6, 7])] == [5, 6, 7]  # a list is one array


def test_passes_repeat_and_from_tensors_and_range(xy):
    x, y = xy
    ds = rows(x, y)
    first, second = elements(ds), elements(ds)
    assert all(np.array_equal(a[0], b[0]) for a, b in zip(first, second))
    (only,) = elements(Dataset.from_tensors((x, y)))
    np.testing.assert_array_equal(only[0], x)
    assert Dataset.from_tensors(x).cardinality() == 1
    assert [int(v) for v in Dataset.range(2, 11, 3)] == [2, 5, 8] and len(Dataset.range(5)) == 5
    assert bool(Dataset.range(0)) and repr(Dataset.range(3)) == "<Dataset cardinality=3>"


def test_from_tensor_slices_refuses_scalars_and_unequal_lengths():
    with pytest.raises(ValueError, match=r"Dataset.from_tensor_slices: every array must have a first axis "
                                         r"to slice along. Received: a scalar as part 1 of the structure"):
        Dataset.from_tensor_slices((np.zeros(3), 4.0))
    with pytest.raises(ValueError, match=r"every array must have the same first dimension \(the number of "
                                         r"elements\). Received: first dimensions \[3, 4\]"):
        Dataset.from_tensor_slices((np.zeros(3), np.zeros((4, 2))))


def test_constructor_checks_its_arguments():
    with pytest.raises(TypeError, match=r"Dataset: `start` must be a function that returns an iterator over "
                                        r"one pass. Received: start=\[1, 2\]"):
        Dataset([1, 2])
    with pytest.raises(ValueError, match=r"Dataset: `cardinality` must be an integer >= -2. "
                                         r"Received: cardinality=-3"):
        Dataset(lambda: iter(()), -3)
    assert Dataset(lambda: iter(())).cardinality() == UNKNOWN


# ---- len and cardinality ---------------------------------------------------------------------------
def test_len_raises_type_error_where_the_cardinality_is_not_a_number():
    with pytest.raises(TypeError, match=r"the dataset is infinite \(repeat\(\) without a count\), so it has "
                                        r"no length. Received: cardinality\(\)=-1 \(INFINITE\)"):
        len(Dataset.range(3).repeat())
    with pytest.raises(TypeError, match=r"length is unknown without a pass .* Received: cardinality\(\)=-2"):
        len(Dataset.range(3).filter(lambda v: v > 0))
    assert (INFINITE, UNKNOWN, AUTOTUNE) == (-1, -2, -1)


@pytest.mark.parametrize(
    "make, expected",
    [
        (lambda d: d.take(3), 3), (lambda d: d.take(20), 10), (lambda d: d.take(-1), 10),
        (lambda d: d.skip(3), 7), (lambda d: d.skip(20), 0), (lambda d: d.skip(-1), 0),
        (lambda d: d.batch(4), 3), (lambda d: d.batch(4, drop_remainder=True), 2),
        (lambda d: d.repeat(3), 30), (lambda d: d.repeat(), INFINITE), (lambda d: d.repeat().take(4), 4),
        (lambda d: d.unbatch(), UNKNOWN), (lambda d: d.filter(lambda v: True), UNKNOWN),
        (lambda d: d.map(lambda v: v), 10), (lambda d: d.shuffle(4), 10), (lambda d: d.cache(), 10),
        (lambda d: d.prefetch(2), 10), (lambda d: d.filter(lambda v: True).take(2), UNKNOWN),
        (lambda d: d.repeat().skip(2), INFINITE), (lambda d: d.take(0).repeat(), 0),
    ],
)
def test_cardinality_follows_tf_data_and_matches_a_pass(make, expected):
    ds = make(Dataset.range(10).map(lambda v: np.full(2, v)))
    assert ds.cardinality() == expected
    if expected >= 0:
        assert len(elements(ds)) == expected == len(ds)


# ---- map, filter, take, skip ------------------------------------------------------------------------
def test_map_calls_with_the_tuple_parts_as_arguments(xy):
    x, y = xy
    got = elements(rows(x, y).map(lambda a, b: (a * 2, b + 1)))
    np.testing.assert_array_equal(np.stack([g[0] for g in got]), x * 2)
    np.testing.assert_array_equal(np.array([g[1] for g in got]), y + 1)
    single = elements(Dataset.from_tensor_slices(x).map(lambda a: a.sum()))
    np.testing.assert_allclose(single, x.sum(axis=1))
    with pytest.raises(TypeError, match=r"Dataset.map: `map_func` must be a function. Received: map_func=3"):
        Dataset.range(2).map(3)


def test_filter_keeps_the_elements_the_predicate_accepts(xy):
    x, y = xy
    got = elements(rows(x, y).filter(lambda a, b: b == 1))
    np.testing.assert_array_equal(np.stack([g[0] for g in got]), x[y == 1])
    with pytest.raises(TypeError, match=r"Dataset.filter: `predicate` must return a boolean scalar \(True or "
                                        r"False\). Received: a value of dtype int64 and shape \(\)"):
        elements(Dataset.range(3).filter(lambda v: v))
    with pytest.raises(TypeError, match=r"`predicate` must be a function"):
        Dataset.range(3).filter(None)


def test_take_and_skip_are_slices_of_a_pass():
    assert [int(v) for v in Dataset.range(10).take(3)] == [0, 1, 2]
    assert [int(v) for v in Dataset.range(10).skip(7)] == [7, 8, 9]
    assert [int(v) for v in Dataset.range(10).skip(2).take(3)] == [2, 3, 4]
    assert elements(Dataset.range(4).skip(-1)) == [] and len(elements(Dataset.range(4).take(-1))) == 4
    for method in ("take", "skip"):
        with pytest.raises(ValueError, match=rf"Dataset.{method}: `count` must be an integer >= 0, or -1 "
                                             rf"\(.*\). Received: count=-2"):
            getattr(Dataset.range(3), method)(-2)
    with pytest.raises(ValueError, match=r"Received: count=1.5"):
        Dataset.range(3).take(1.5)


# ---- batch, unbatch ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "size, drop", [(1, False), (3, False), (3, True), (4, False), (10, True), (11, False)]
)
def test_batch_stacks_consecutive_elements_like_array_split(xy, size, drop):
    x, y = xy
    batches = elements(rows(x, y).batch(size, drop_remainder=drop))
    cuts = range(size, len(x), size)
    expected = [(a, b) for a, b in zip(np.split(x, cuts), np.split(y, cuts)) if not drop or len(a) == size]
    assert len(batches) == len(expected) == len(rows(x, y).batch(size, drop_remainder=drop))
    for (bx, by), (ex, ey) in zip(batches, expected):
        np.testing.assert_array_equal(bx, ex)
        np.testing.assert_array_equal(by, ey)


def test_batch_refuses_elements_of_different_shapes_and_bad_arguments():
    ragged = Dataset.range(3).map(lambda v: np.zeros(int(v) + 1))
    with pytest.raises(ValueError, match=r"Dataset.batch: the elements of one batch must have the same shape "
                                         r"to be stacked \(part 0 of the element\)\..* "
                                         r"Received: shapes \(1,\), \(2,\), \(3,\)"):
        elements(ragged.batch(3))
    with pytest.raises(ValueError, match=r"Dataset.batch: `batch_size` must be an integer >= 1. "
                                         r"Received: batch_size=0"):
        Dataset.range(3).batch(0)
    with pytest.raises(TypeError, match=r"`drop_remainder` must be True or False. Received: 'yes'"):
        Dataset.range(3).batch(2, drop_remainder="yes")


def test_unbatch_inverts_batch(xy):
    x, y = xy
    got = elements(rows(x, y).batch(4).unbatch())
    np.testing.assert_array_equal(np.stack([g[0] for g in got]), x)
    np.testing.assert_array_equal(np.array([g[1] for g in got]), y)
    bad = Dataset.from_tensors((np.zeros((2, 3)), np.zeros(3)))
    with pytest.raises(ValueError, match=r"Dataset.unbatch: every array of a batch must have the same "
                                         r"first dimension \(the batch size\). "
                                         r"Received: first dimensions \[2, 3\]"):
        elements(bad.unbatch())


# ---- shuffle ----------------------------------------------------------------------------------------
def order(ds):
    return [int(v) for v in ds]


def test_shuffle_is_a_permutation_reproducible_from_the_seed_and_new_each_pass():
    ds = Dataset.range(50).shuffle(50, seed=3)
    first, second = order(ds), order(ds)
    assert sorted(first) == list(range(50)) and sorted(second) == list(range(50))
    assert first != second and first != list(range(50))
    again = Dataset.range(50).shuffle(50, seed=3)
    assert order(again) == first and order(again) == second
    fixed = Dataset.range(50).shuffle(50, seed=3, reshuffle_each_iteration=False)
    assert order(fixed) == order(fixed) != list(range(50))
    assert order(Dataset.range(50).shuffle(50, seed=4)) != first


def test_shuffle_without_seed_follows_set_random_seed():
    set_random_seed(7)
    a = order(Dataset.range(30).shuffle(30))
    set_random_seed(7)
    assert order(Dataset.range(30).shuffle(30)) == a


@pytest.mark.parametrize("buffer_size", [1, 2, 5])
def test_shuffle_moves_an_element_at_most_the_buffer_ahead(buffer_size):
    """tf.data's buffer: output j is one of the inputs 0 .. j + buffer_size - 1."""
    for seed in range(5):
        got = order(Dataset.range(40).shuffle(buffer_size, seed=seed))
        assert sorted(got) == list(range(40))
        assert all(v <= j + buffer_size - 1 for j, v in enumerate(got))
    assert order(Dataset.range(10).shuffle(1, seed=0)) == list(range(10))
    with pytest.raises(ValueError, match=r"Dataset.shuffle: `buffer_size` must be an integer >= 1. "
                                         r"Received: buffer_size=0"):
        Dataset.range(3).shuffle(0)
    with pytest.raises(ValueError, match=r"Dataset.shuffle: `seed` must be an integer >= 0. "
                                         r"Received: seed=-1"):
        Dataset.range(3).shuffle(2, seed=-1)


def test_shuffle_before_repeat_reshuffles_each_repetition():
    got = order(Dataset.range(20).shuffle(20, seed=1).repeat(2))
    assert sorted(got[:20]) == sorted(got[20:]) == list(range(20)) and got[:20] != got[20:]


# ---- repeat -----------------------------------------------------------------------------------------
def test_repeat_concatenates_passes():
    assert order(Dataset.range(3).repeat(3)) == [0, 1, 2] * 3
    assert order(Dataset.range(3).repeat().take(7)) == [0, 1, 2, 0, 1, 2, 0]
    assert order(Dataset.range(3).repeat(0)) == []
    assert order(Dataset.range(0).repeat()) == []  # an empty pass ends an endless repeat
    with pytest.raises(ValueError, match=r"Dataset.repeat: `count` must be an integer >= 0, "
                                         r"or -1 \(forever\). Received: count=-5"):
        Dataset.range(3).repeat(-5)


# ---- cache ------------------------------------------------------------------------------------------
def test_cache_computes_once_and_replays_read_only_arrays(xy):
    x, y = xy
    calls = []

    def double(a, b):
        calls.append(1)
        return a * 2, b

    ds = rows(x, y).map(double).batch(4).cache()
    first = elements(ds)
    assert len(calls) == 10
    second = elements(ds)
    assert len(calls) == 10  # replayed, not recomputed
    for (a, b), (c, d) in zip(first, second):
        assert a is c and b is d
    np.testing.assert_array_equal(np.concatenate([a for a, _ in second]), x * 2)
    with pytest.raises(ValueError, match="read-only"):
        second[0][0][0, 0] = 1
    with pytest.raises(ValueError, match="read-only"):
        first[0][1][0] = 1
    own = np.zeros(3)
    assert elements(Dataset.from_tensors(own).cache())[0].flags.writeable is False
    own[0] = 1  # the caller's array itself stays writable


def test_cache_stores_only_a_complete_pass():
    calls = []
    ds = Dataset.range(5).map(lambda v: calls.append(int(v)) or v).cache()
    assert order(ds.take(2)) == [0, 1]
    assert order(ds) == [0, 1, 2, 3, 4]
    assert calls == [0, 1, 0, 1, 2, 3, 4]
    assert order(ds) == [0, 1, 2, 3, 4] and len(calls) == 7
    with pytest.raises(ValueError, match=r'Dataset.cache: only the in-memory cache is supported; pass '
                                         r'filename="" \(the default\). Received: filename=\'c.tmp\''):
        Dataset.range(3).cache("c.tmp")


def test_cache_then_shuffle_gives_a_new_order_each_pass_from_one_computation():
    calls = []
    ds = Dataset.range(20).map(lambda v: calls.append(1) or v).cache().shuffle(20, seed=0)
    a, b = order(ds), order(ds)
    assert sorted(a) == sorted(b) == list(range(20)) and a != b and len(calls) == 20


# ---- prefetch ---------------------------------------------------------------------------------------
def test_prefetch_yields_the_same_elements(xy):
    x, y = xy
    for size in (1, 3, AUTOTUNE, 0):
        got = elements(rows(x, y).batch(3).prefetch(size))
        np.testing.assert_array_equal(np.concatenate([a for a, _ in got]), x)
    with pytest.raises(ValueError, match=r"Dataset.prefetch: `buffer_size` must be an integer >= 0, or -1 "
                                         r"\(AUTOTUNE\). Received: buffer_size=-3"):
        Dataset.range(3).prefetch(-3)


def test_prefetch_thread_ends_when_the_consumer_stops_early():
    before = prefetch_threads()
    made = []
    endless = Dataset.range(3).repeat().map(lambda v: made.append(1) or v).prefetch(2)
    for k, _ in enumerate(endless):
        if k == 4:
            break
    assert prefetch_threads() - before == set()
    assert len(made) <= 5 + 2 + 1  # consumed, the buffer, and the one being made when told to stop
    iterator = iter(endless)
    next(iterator)
    assert len(prefetch_threads() - before) == 1
    iterator.close()
    assert prefetch_threads() - before == set()
    iterator = iter(endless.take(2).prefetch(1))  # nested: the inner thread ends with the outer
    assert len(list(iterator)) == 2
    del iterator
    gc.collect()
    assert prefetch_threads() - before == set()


def test_prefetch_thread_ends_when_the_consumer_raises():
    before = prefetch_threads()
    with pytest.raises(KeyError):
        for _ in Dataset.range(100).prefetch(3):
            raise KeyError("consumer")
    assert prefetch_threads() - before == set()


def test_prefetch_raises_the_producers_error_in_the_consumer_at_its_element():
    before = prefetch_threads()

    def fail_at_three(v):
        if v == 3:
            raise ArithmeticError("element 3 is bad")
        return v

    got = []
    with pytest.raises(ArithmeticError, match="element 3 is bad") as caught:
        for v in Dataset.range(10).map(fail_at_three).prefetch(4):
            got.append(int(v))
    assert got == [0, 1, 2]
    assert caught.traceback[-1].name == "fail_at_three"  # the producer's traceback is kept
    assert prefetch_threads() - before == set()


def test_prefetch_passes_run_independently():
    ds = Dataset.range(6).prefetch(1)
    a, b = iter(ds), iter(ds)
    assert [int(next(a)), int(next(b)), int(next(a)), int(next(b))] == [0, 0, 1, 1]
    assert order(ds) == list(range(6))
    a.close()
    b.close()


def test_a_pipeline_matches_numpy(xy):
    """A Keras-tutorial chain: cache, shuffle, batch, map, prefetch; the NumPy equivalent per pass."""
    x, y = xy
    ds = rows(x, y).cache().shuffle(10, seed=0).batch(4).map(lambda a, b: (a / 10, b)).prefetch(AUTOTUNE)
    for _ in range(2):
        batches = elements(ds)
        assert [len(b) for _, b in batches] == [4, 4, 2] == [4, 4, 2][: len(ds)]
        gx = np.concatenate([a for a, _ in batches])
        gy = np.concatenate([b for _, b in batches])
        perm = np.argsort(gx[:, 0])
        np.testing.assert_allclose(gx[perm], x / 10)
        np.testing.assert_array_equal(gy[perm], y)
    assert math.ceil(10 / 4) == len(ds)
