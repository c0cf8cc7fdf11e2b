"""convolve.config: which kernels run (CONVOLVE_KERNELS, set_kernels, the fallback without
Numba) and how many threads the engine computes with; process-wide, from any thread."""
from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import warnings

import numpy as np
import pytest

import convolve
from convolve import config
from convolve.ops import activations, blas, pooling
from tests.helpers import using_kernels
from tests.test_threads import run_threads


def run_python(code, **environment):
    """Run ``code`` in a fresh interpreter with ``environment`` added; (returncode, stdout, stderr)."""
    env = {**os.environ, **environment}
    for name, value in environment.items():
        if value is None:
            env.pop(name)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    return done.returncode, done.stdout, done.stderr


def test_convolve_config_is_exported():
    assert convolve.config is config
    assert config.KERNELS == ("numba", "numpy") and config.DEFAULT_KERNELS == "numba"


@pytest.mark.parametrize("raw,expected", [(None, "numba"), ("", "numba"), ("numpy", "numpy"),
                                          (" NumPy ", "numpy"), ("numba", "numba")])
def test_the_environment_variable(monkeypatch, raw, expected):
    if raw is None:
        monkeypatch.delenv("CONVOLVE_KERNELS", raising=False)
    else:
        monkeypatch.setenv("CONVOLVE_KERNELS", raw)
    assert config._from_environment() == expected


def test_a_bad_environment_variable_stops_the_import_naming_it():
    code, _, err = run_python("import convolve", CONVOLVE_KERNELS="cuda")
    assert code != 0
    assert (
        "ValueError: The environment variable CONVOLVE_KERNELS must be one of 'numba', 'numpy' (or unset, "
        "for 'numba'). Received: CONVOLVE_KERNELS='cuda'" in err
    )


def test_the_environment_variable_is_read_at_import():
    code, out, err = run_python(
        "import convolve; print(convolve.config.kernels())", CONVOLVE_KERNELS="numpy"
    )
    assert (code, out.strip()) == (0, "numpy"), err


BLOCK_NUMBA = "import sys; sys.modules['numba'] = None\n"  # `import numba` then raises ImportError


def test_without_numba_the_numpy_kernels_run_after_one_warning():
    code, out, err = run_python(
        BLOCK_NUMBA
        + "import warnings; warnings.simplefilter('always')\n"
        "import numpy as np, convolve\n"
        "from convolve.ops import activations, pooling\n"
        "g = np.ones((2, 4, 4, 3), np.float32); x = np.arange(96, dtype=np.float32).reshape(g.shape) - 40\n"
        "print(activations.relu_backward(g, x).sum(), pooling.max_pool(x, 2).sum())\n"
        "print(activations.relu_backward(g, x).sum(), convolve.config.kernels())\n",
        CONVOLVE_KERNELS=None,
    )
    assert code == 0, err
    g = np.ones((2, 4, 4, 3), np.float32)
    x = np.arange(96, dtype=np.float32).reshape(g.shape) - 40
    with using_kernels("numpy"):
        relu, pool = activations.relu_backward(g, x).sum(), pooling.max_pool(x, 2).sum()
    assert out.split() == [str(relu), str(pool), str(relu), "numpy"]
    assert err.count("KernelsWarning") == 1
    assert re.search(r"convolve: Numba could not be imported \((ModuleNotFound|Import)Error: ", err)
    assert "so the NumPy kernels run instead" in err and "set CONVOLVE_KERNELS=numpy" in err


def test_without_numba_choosing_numpy_is_silent_and_asking_for_numba_raises():
    code, out, err = run_python(
        BLOCK_NUMBA
        + "import warnings; warnings.simplefilter('error')\n"
        "import numpy as np, convolve\n"
        "print(convolve.config.kernels())\n"
        "try:\n"
        "    convolve.config.set_kernels('numba')\n"
        "except ImportError as error:\n"
        "    print(error)\n"
        "print(convolve.config.kernels())\n",
        CONVOLVE_KERNELS="numpy",
    )
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == "numpy" and lines[-1] == "numpy"
    assert re.match(
        r"set_kernels\('numba'\): Numba could not be imported, so the compiled kernels cannot run "
        r"\(pip install numba; 'numpy' runs without it\)\. Received: (ModuleNotFound|Import)Error: ", lines[1]
    )


def test_set_kernels_and_its_message():
    with using_kernels("numpy"):
        assert config.kernels() == "numpy"
        with using_kernels("numba"):
            assert config.kernels() == "numba"
        assert config.kernels() == "numpy"
    for bad in ("NUMBA", "cupy", None, 1):
        with pytest.raises(ValueError, match=(
            r"set_kernels: the kernels must be one of 'numba', 'numpy'\. Received: " + re.escape(repr(bad))
        )):
            config.set_kernels(bad)


def test_set_kernels_is_process_wide():
    """A setting made in one thread is what every other thread runs (a worker thread starts with
    an empty context, so a context-local setting would not reach it)."""
    seen = {}

    def other():
        seen["kernels"] = config.kernels()

    with using_kernels("numpy"):
        run_threads(other)
    assert seen["kernels"] == "numpy"
    with using_kernels("numba"):
        run_threads(other)
    assert seen["kernels"] == "numba"


def test_switching_kernels_while_other_threads_compute_changes_no_result():
    rng = np.random.default_rng(0)
    g = rng.standard_normal((64, 1024)).astype(np.float32)
    x = rng.standard_normal((64, 1024)).astype(np.float32)
    with using_kernels("numpy"):
        expected = activations.relu_backward(g, x)
    stop = threading.Event()

    def compute():
        while not stop.is_set():
            np.testing.assert_array_equal(activations.relu_backward(g, x), expected)

    def switch():
        try:
            for k in range(200):
                config.set_kernels(("numba", "numpy")[k % 2])
        finally:
            stop.set()

    with using_kernels("numba"):
        run_threads(compute, compute, switch)


def test_set_num_threads_sets_blas_and_the_workers():
    before_setting, before_counts = config._num_threads, [c.num_threads for c in blas._blas_controllers()]
    if not before_counts:
        pytest.skip("no BLAS library that threadpoolctl controls")
    try:
        config.set_num_threads(1)
        assert config.num_threads() == 1 and blas.workers() == 1
        assert all(c.num_threads == 1 for c in blas._blas_controllers())
        config.set_num_threads(2)
        assert config.num_threads() == 2 and blas.workers() == 2
    finally:
        config._num_threads = before_setting
        for c, n in zip(blas._blas_controllers(), before_counts):
            c.set_num_threads(n)


def test_set_num_threads_inside_parallel_work_takes_effect_after_it():
    before_setting, before_counts = config._num_threads, [c.num_threads for c in blas._blas_controllers()]
    if not before_counts:
        pytest.skip("no BLAS library that threadpoolctl controls")
    try:
        def task():
            config.set_num_threads(3)  # BLAS is held at one thread while the tasks run
            return [c.num_threads for c in blas._blas_controllers()]

        inside = blas.run_parallel([task, lambda: None])[0]
        assert set(inside) == {1}
        assert {c.num_threads for c in blas._blas_controllers()} == {3}
        assert config.num_threads() == 3
    finally:
        config._num_threads = before_setting
        for c, n in zip(blas._blas_controllers(), before_counts):
            c.set_num_threads(n)


def test_num_threads_without_a_setting_reads_blas():
    before = config._num_threads
    try:
        config._num_threads = None
        assert config.num_threads() == max((c.num_threads for c in blas._blas_controllers()), default=1)
    finally:
        config._num_threads = before


@pytest.mark.parametrize("bad,error,shown", [(0, ValueError, "0"), (-2, ValueError, "-2"),
                                             (2.0, TypeError, "2.0"), (True, TypeError, "True"),
                                             ("2", TypeError, "'2'")])
def test_set_num_threads_messages(bad, error, shown):
    with pytest.raises(error, match=rf"set_num_threads: the thread count must be a positive int\. "
                                    rf"Received: n={shown}$"):
        config.set_num_threads(bad)


def test_kernels_warning_is_a_runtime_warning():
    assert issubclass(config.KernelsWarning, RuntimeWarning)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert config.kernels() in config.KERNELS  # Numba is installed here: no warning
