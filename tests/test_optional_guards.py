"""Every use of an optional package in the tests sits behind that package's marker.

``python -m pytest`` must pass with only ``pip install -e ".[test]"``, and CI's second stage
selects the tests that need PyTorch, Keras, ONNX, ... by their markers (``-m "torch or ..."``).
Both hold only if each use of such a package is inside a test carrying its marker, so this
file parses every tests/**/*.py with ``ast`` and reports each use that is not.

The rules:

* A use is ``import torch`` / ``from torch.nn import functional`` (any module whose first
  dotted part is an optional package: torch, keras, h5py, onnx, onnxscript, onnxruntime,
  captum, dask, and selenium, whose marker is chromium); ``importorskip("torch")``,
  ``import_module("torch")`` or ``__import__("torch")``; or a reference to a helper function
  that uses one (below).
* A use is guarded when a test function (``test*``) or test class (``Test*``) around it is
  decorated with the package's marker (``@requires_torch``, ``@requires("keras")``,
  ``@pytest.mark.onnx``, also inside a list), or has a ``pytestmark`` holding it, or the
  module's ``pytestmark`` holds it. A marker on anything else (a helper, a fixture) guards
  nothing, as in pytest.
* A use that runs at collection (module level, a class body, a decorator or a default
  argument) is an error whatever the markers: without the package it breaks collection.
* A top-level function of a tests module that is not a test (a helper: ``helpers.torch()``,
  ``torch_pool()``) passes its uses on to whoever refers to it: each call or other reference
  to it, in its own module or where it is imported (``from tests.helpers import torch``,
  ``helpers.torch()``), is then a use of the package and must be guarded itself, through
  helpers of helpers too. A helper that nothing refers to by name (a fixture, which tests
  request by argument) cannot be followed, so its own uses are reported. Methods of an
  unmarked class are not followed either, and are reported.

Programs such as chromium are not imported, so this check cannot see them; the browser tests
import selenium, which is checked, and carry ``@requires("chromium")`` for both.
"""
from __future__ import annotations

import ast
import re
import textwrap
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.helpers import OPTIONAL, PROGRAMS

ROOT = Path(__file__).resolve().parents[1]
TESTS = ROOT / "tests"

#: importable top-level module -> the marker its tests must carry
MODULES = {name: mark for mark, (names, _) in OPTIONAL.items() for name in names if name not in PROGRAMS}
IMPORTERS = ("importorskip", "import_module", "__import__")


def _final_name(node: ast.AST) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def _dotted(node: ast.AST) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        inner = _dotted(node.value)
        return None if inner is None else f"{inner}.{node.attr}"
    return None


def markers_of(node: ast.AST) -> set[str]:
    """The optional-package markers an expression applies: ``requires_torch``,
    ``pytest.mark.torch``, ``pytest.mark.torch(...)``, ``requires("onnx", "onnxruntime")``,
    and lists or tuples of those (a ``pytestmark``)."""
    if isinstance(node, (ast.List, ast.Tuple)):
        return set().union(*(markers_of(item) for item in node.elts))
    if isinstance(node, ast.Call):
        if _final_name(node.func) == "requires":
            return {arg.value for arg in node.args if isinstance(arg, ast.Constant) and arg.value in OPTIONAL}
        return markers_of(node.func)
    name = _final_name(node)
    if name is None:
        return set()
    if name.startswith("requires_") and name[len("requires_"):] in OPTIONAL:
        return {name[len("requires_"):]}
    parent = node.value if isinstance(node, ast.Attribute) else None
    if name in OPTIONAL and parent is not None and _final_name(parent) == "mark":
        return {name}
    return set()


def pytestmark_of(body: list[ast.stmt]) -> set[str]:
    """The markers of a module's or class's ``pytestmark = ...``."""
    found = set()
    for stmt in body:
        if isinstance(stmt, ast.Assign):
            targets = stmt.targets
        elif isinstance(stmt, ast.AnnAssign) and stmt.value is not None:
            targets = [stmt.target]
        else:
            continue
        if any(isinstance(target, ast.Name) and target.id == "pytestmark" for target in targets):
            found |= markers_of(stmt.value)
    return found


def _imported_modules(node: ast.AST) -> list[str]:
    """The optional packages an import statement imports."""
    if isinstance(node, ast.Import):
        return [alias.name.split(".")[0] for alias in node.names if alias.name.split(".")[0] in MODULES]
    if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
        top = node.module.split(".")[0]
        return [top] if top in MODULES else []
    return []


def module_name(path: str) -> str:
    """'tests/ops/test_conv.py' -> 'tests.ops.test_conv'; 'tests/ops/__init__.py' -> 'tests.ops'."""
    parts = path[: -len(".py")].split("/")
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@dataclass
class Use:
    """One use of an optional package, or one reference to a tests function that may use one."""

    line: int
    label: str
    packages: set[str]  # used directly; empty for a reference
    target: tuple[str, str] | None  # (tests module, function) referred to
    collection: bool  # runs when the module is imported
    guards: set[str]  # the markers of the marked tests and classes around it, and pytestmark
    helper: str | None  # the top-level non-test function it sits in, if any
    inside: str  # where, for the message: 'test test_x()', 'helper function f()', ...


@dataclass
class Module:
    path: str
    name: str
    uses: list[Use] = field(default_factory=list)


class _Collector(ast.NodeVisitor):
    """Collects a module's uses and references, with what encloses each."""

    def __init__(self, module: Module, tree: ast.Module, known: set[str]):
        self.module = module
        self.scopes: list[tuple[ast.AST, set[str], set[str]]] = []  # (def/class/lambda, markers, locals)
        self.module_marks = pytestmark_of(tree.body)
        defs = (ast.FunctionDef, ast.AsyncFunctionDef)
        self.functions = {node.name for node in tree.body if isinstance(node, defs)}
        self.called: set[int] = set()
        self.module_aliases: dict[str, str] = {}  # local dotted name -> tests module
        self.names: dict[str, tuple[str, str]] = {}  # local name -> (tests module, attribute)
        self.bind(tree, known, is_package=module.path.endswith("__init__.py"))
        self.visit(tree)

    def bind(self, tree: ast.Module, known: set[str], is_package: bool) -> None:
        """What names refer to other tests modules and their functions (imports anywhere)."""
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name in known:
                        self.module_aliases[alias.asname or alias.name] = alias.name
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    package = self.module.name.split(".")
                    package = package if is_package else package[:-1]
                    package = package[: len(package) - (node.level - 1)]
                    base = ".".join(package + ([node.module] if node.module else []))
                else:
                    base = node.module or ""
                for alias in node.names:
                    local = alias.asname or alias.name
                    if f"{base}.{alias.name}" in known:
                        self.module_aliases[local] = f"{base}.{alias.name}"
                    elif base in known:
                        self.names[local] = (base, alias.name)

    # --- walking, with the enclosing defs and classes -------------------------------
    def _enter(self, node, markers: set[str], local_names: set[str], inside: list) -> None:
        self.scopes.append((node, markers, local_names))
        for child in inside:
            self.visit(child)
        self.scopes.pop()

    @staticmethod
    def _locals(node) -> set[str]:
        args = node.args
        names = {a.arg for a in (*args.posonlyargs, *args.args, *args.kwonlyargs)}
        names |= {a.arg for a in (args.vararg, args.kwarg) if a is not None}
        body = node.body if isinstance(node.body, list) else [node.body]
        for stmt in body:
            stores = [n for n in ast.walk(stmt) if isinstance(n, ast.Name)]
            names |= {n.id for n in stores if isinstance(n.ctx, ast.Store)}
        return names

    def _outside(self, node) -> None:
        """Decorators and defaults: evaluated where the definition stands."""
        for child in getattr(node, "decorator_list", []):
            self.visit(child)
        for child in (*node.args.defaults, *[d for d in node.args.kw_defaults if d is not None]):
            self.visit(child)

    def visit_FunctionDef(self, node) -> None:
        self._outside(node)
        markers = set().union(*(markers_of(d) for d in node.decorator_list)) if node.decorator_list else set()
        self._enter(node, markers, self._locals(node), node.body)

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_Lambda(self, node: ast.Lambda) -> None:
        self._outside(node)
        self._enter(node, set(), self._locals(node), [node.body])

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        for child in (*node.decorator_list, *node.bases, *node.keywords):
            self.visit(child)
        markers = set().union(*(markers_of(d) for d in node.decorator_list)) if node.decorator_list else set()
        self._enter(node, markers | pytestmark_of(node.body), set(), node.body)

    # --- the uses -------------------------------------------------------------------
    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            if alias.name.split(".")[0] in MODULES:
                self.record(node, f"import {alias.name}", packages={alias.name.split(".")[0]})

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        for package in _imported_modules(node):
            self.record(node, f"from {node.module} import ...", packages={package})

    def visit_Call(self, node: ast.Call) -> None:
        name = _final_name(node.func)
        first = node.args[0] if node.args else None
        if name in IMPORTERS and isinstance(first, ast.Constant) and isinstance(first.value, str):
            if first.value.split(".")[0] in MODULES:
                self.record(node, f"{name}({first.value!r})", packages={first.value.split(".")[0]})
        self.called.add(id(node.func))
        self.generic_visit(node)

    def visit_Attribute(self, node: ast.Attribute) -> None:
        owner = _dotted(node.value)
        if isinstance(node.ctx, ast.Load) and owner in self.module_aliases:
            self.reference(node, f"{owner}.{node.attr}", (self.module_aliases[owner], node.attr))
        else:
            self.generic_visit(node)

    def visit_Name(self, node: ast.Name) -> None:
        if not isinstance(node.ctx, ast.Load) or any(node.id in names for _, _, names in self.scopes):
            return
        if node.id in self.functions:
            self.reference(node, node.id, (self.module.name, node.id))
        elif node.id in self.names:
            self.reference(node, node.id, self.names[node.id])

    def reference(self, node, label: str, target: tuple[str, str]) -> None:
        self.record(node, label + ("()" if id(node) in self.called else ""), packages=set(), target=target)

    def record(self, node, label: str, packages: set[str], target: tuple[str, str] | None = None) -> None:
        functions = [scope for scope, _, _ in self.scopes if not isinstance(scope, ast.ClassDef)]
        guards = set(self.module_marks)
        for scope, markers, _ in self.scopes:
            if _is_test(scope):
                guards |= markers
        outer = self.scopes[0][0] if self.scopes else None
        is_function = isinstance(outer, (ast.FunctionDef, ast.AsyncFunctionDef))
        helper = outer.name if is_function and not _is_test(outer) else None
        inner = getattr(functions[-1], "name", "<lambda>") if functions else ""
        kind = "test" if inner.startswith("test") else "helper function"
        self.module.uses.append(Use(
            line=node.lineno, label=label, packages=packages, target=target, collection=not functions,
            guards=guards, helper=helper, inside=f"{kind} {inner}()"))


def _is_test(scope: ast.AST) -> bool:
    if isinstance(scope, ast.ClassDef):
        return scope.name.startswith("Test")
    return isinstance(scope, (ast.FunctionDef, ast.AsyncFunctionDef)) and scope.name.startswith("test")


def check_sources(sources: dict[str, str]) -> list[str]:
    """The unguarded uses of optional packages in these files ({'tests/x.py': source}), as
    'path:line: ...' lines."""
    known = {module_name(path) for path in sources}
    modules = []
    for path, source in sources.items():
        module = Module(path, module_name(path))
        _Collector(module, ast.parse(source, filename=path), known)
        modules.append(module)

    def packages(use: Use) -> set[str]:
        return use.packages | (tainted[use.target] if use.target else set())

    # A helper's unguarded uses become its own, until nothing changes (helpers of helpers).
    tainted: dict[tuple[str, str], set[str]] = defaultdict(set)
    changed = True
    while changed:
        changed = False
        for module in modules:
            for use in module.uses:
                if use.helper is None or use.collection:
                    continue
                unguarded = {p for p in packages(use) if MODULES[p] not in use.guards}
                new = unguarded - tainted[module.name, use.helper]
                if new:
                    tainted[module.name, use.helper] |= new
                    changed = True
    referenced = {use.target for module in modules for use in module.uses if use.target}

    findings = []
    for module in modules:
        for use in module.uses:
            for package in sorted(packages(use)):
                marker = MODULES[package]
                decorator = "@requires_torch" if marker == "torch" else f'@requires("{marker}")'
                where = f"{module.path}:{use.line}: {use.label} uses {package}"
                if use.collection:
                    findings.append(f"{where} at collection time (module level, a class body, a decorator "
                                    f"or a default); move it into a test marked {decorator}")
                elif marker in use.guards:
                    continue
                elif use.helper is not None and (module.name, use.helper) in referenced:
                    continue  # its references are checked instead
                elif use.helper is not None:
                    findings.append(f"{where} in {use.inside}, which nothing refers to by name, so no "
                                    f"marked test can be seen to call it; move the use into a test marked "
                                    f"{decorator}")
                else:
                    findings.append(f"{where} in {use.inside}, which no test marker '{marker}' guards: "
                                    f"mark the test {decorator} (or @pytest.mark.{marker}, or the module's "
                                    f"pytestmark)")
    return findings


def check_tests() -> list[str]:
    return check_sources({f.relative_to(ROOT).as_posix(): f.read_text() for f in sorted(TESTS.rglob("*.py"))})


# --- the check itself --------------------------------------------------------------


def test_every_optional_package_use_is_behind_its_marker():
    findings = check_tests()
    assert not findings, "unguarded uses of optional packages:\n" + "\n".join(findings)


def test_every_optional_marker_is_registered(pytestconfig):
    registered = {line.split(":")[0].strip() for line in pytestconfig.getini("markers")}
    assert set(OPTIONAL) <= registered


def test_ci_installs_only_known_markers():
    """.ci/run's table of references names markers that tests/helpers.py knows."""
    text = (ROOT / ".ci" / "run").read_text()
    table = re.search(r"^REFERENCES='\n(.*?)^'", text, re.S | re.M)
    assert table, ".ci/run has no REFERENCES='...' table"
    rows = [line.split()[0] for line in table.group(1).splitlines() if line.strip()]
    assert "torch" in rows
    assert set(rows) <= set(OPTIONAL), set(rows) - set(OPTIONAL)


# --- the checker on small sources, so that it is shown to fail -----------------------

HELPERS_SOURCE = """
def torch():
    import torch as _torch
    return _torch

def assert_close(a, b):
    assert a == b
"""


def findings_in(source: str, **others: str) -> list[str]:
    """The findings in tests/x.py and ``others`` ({name: source}), beside a small tests/helpers.py
    (whose torch() is reported where nothing refers to it: not counted here)."""
    files = {"tests/__init__.py": "", "tests/helpers.py": HELPERS_SOURCE}
    for name, text in {"x": source, **others}.items():
        files[f"tests/{name}.py"] = textwrap.dedent(text)
    return [finding for finding in check_sources(files) if not finding.startswith("tests/helpers.py:")]


def test_an_unreferenced_helper_is_reported():
    assert check_sources({"tests/helpers.py": HELPERS_SOURCE}) == [
        "tests/helpers.py:3: import torch uses torch in helper function torch(), which nothing refers to "
        "by name, so no marked test can be seen to call it; move the use into a test marked @requires_torch"]


def lines_and_packages(findings: list[str]) -> list[tuple[str, int, str]]:
    return [(f.split(":")[0], int(f.split(":")[1]), f.split(" uses ")[1].split()[0]) for f in findings]


def test_guarded_uses_are_not_reported():
    source = """
        import pytest
        from tests import helpers
        from tests.helpers import assert_close, requires, requires_torch, torch

        @requires_torch
        def test_a():
            t = helpers.torch()
            assert_close(1, 1)

        @pytest.mark.torch
        def test_b():
            import torch.nn.functional as F

        @helpers.requires_torch
        @pytest.mark.parametrize("n", [1, 2])
        def test_c(n):
            torch().zeros(n)

        @requires("onnx", "onnxruntime")
        def test_d():
            import onnx
            import onnxruntime
            pytest.importorskip("onnx")

        @pytest.mark.torch
        class TestE:
            def test_f(self):
                def inner():
                    return helpers.torch()
                return inner()

            def helper_method(self):
                import torch

        class TestG:
            pytestmark = [pytest.mark.keras]

            def test_h(self):
                from keras import layers
    """
    assert findings_in(source) == []


def test_selenium_needs_the_chromium_marker():
    source = """
        import pytest

        @pytest.mark.chromium
        def test_guarded():
            from selenium import webdriver

        def test_unguarded():
            from selenium.webdriver.common.by import By
    """
    [finding] = findings_in(source)
    assert finding.startswith("tests/x.py:9: from selenium.webdriver.common.by import ... uses selenium")
    assert '@requires("chromium")' in finding


def test_module_pytestmark_guards_its_tests_and_helpers():
    source = """
        import pytest
        pytestmark = [pytest.mark.dask, pytest.mark.filterwarnings("ignore")]

        @pytest.fixture
        def array_module():
            import dask.array as da
            return da
    """
    assert findings_in(source) == []


def test_unguarded_helpers_torch_call_is_reported_with_file_line_and_package():
    source = """
        from tests import helpers

        def test_matches_pytorch():
            torch = helpers.torch()
    """
    [finding] = findings_in(source)
    assert finding.startswith("tests/x.py:5: helpers.torch() uses torch in test test_matches_pytorch()")
    assert "@requires_torch" in finding


def test_each_kind_of_unguarded_use_is_reported():
    source = """
        import pytest
        import tests.helpers
        from tests.helpers import torch as get_torch

        def test_a():
            get_torch()

        def test_b():
            tests.helpers.torch()

        @pytest.mark.onnx
        def test_c():
            import onnxruntime

        @pytest.mark.skipif(True, reason="not a marker")
        def test_d():
            pytest.importorskip("h5py")

        @pytest.fixture
        def reference():
            from captum.attr import IntegratedGradients

        @pytest.mark.captum
        def helper_marked_but_not_a_test():
            import captum

        class TestE:
            def test_f(self):
                __import__("dask")

            def helper_method(self):
                import keras
    """
    findings = findings_in(source)
    assert lines_and_packages(findings) == [
        ("tests/x.py", line, package) for line, package in
        [(7, "torch"), (10, "torch"), (14, "onnxruntime"), (18, "h5py"), (22, "captum"), (26, "captum"),
         (30, "dask"), (33, "keras")]], findings
    assert 'mark the test @requires("onnxruntime")' in findings[2]
    assert "helper function reference(), which nothing refers to by name" in findings[4]
    assert "helper function helper_method(), which no test marker 'keras' guards" in findings[7]


def test_helpers_pass_their_uses_to_their_callers():
    """A helper that uses torch is fine where every reference to it is guarded, through helpers
    of helpers and across modules; each unguarded reference is reported where it stands."""
    source = """
        from tests.helpers import requires_torch, torch

        def torch_reference(x):
            return torch().tensor(x)

        def reference_twice(x):
            return torch_reference(x), torch_reference(x)

        @requires_torch
        def test_guarded():
            reference_twice(1)

        def test_unguarded():
            reference_twice(2)
    """
    other = """
        from tests import x
        from tests.x import reference_twice

        def test_elsewhere():
            reference_twice(3)
            x.torch_reference(4)
    """
    findings = findings_in(source, y=other)
    assert lines_and_packages(findings) == [
        ("tests/x.py", 15, "torch"), ("tests/y.py", 6, "torch"), ("tests/y.py", 7, "torch")], findings
    assert findings[0].startswith("tests/x.py:15: reference_twice() uses torch in test test_unguarded()")
    assert findings[2].startswith("tests/y.py:7: x.torch_reference() uses torch")


def test_uses_at_collection_time_are_reported_whatever_the_markers():
    source = """
        import pytest
        from tests import helpers
        import torch
        pytestmark = pytest.mark.torch
        keras = pytest.importorskip("keras")

        @pytest.mark.parametrize("t", [helpers.torch()])
        def test_a(t, default=helpers.torch()):
            pass

        @pytest.mark.torch
        class TestB:
            reference = helpers.torch()
    """
    findings = findings_in(source)
    assert [line for _, line, _ in lines_and_packages(findings)] == [4, 6, 8, 9, 14], findings
    assert all("at collection time" in finding for finding in findings)


def test_a_local_name_is_not_the_helper():
    """Only a name imported from a tests module is followed: a parameter or a local named torch
    is not tests.helpers.torch."""
    source = """
        import pytest

        @pytest.mark.torch
        def test_a():
            import torch
            torch.zeros(1)

        def test_b(torch):
            torch()

        def test_c(make):
            torch = make()
            torch.zeros(1)
    """
    assert findings_in(source) == []
    imported = "from tests.helpers import torch\n" + textwrap.dedent(source)
    assert lines_and_packages(findings_in(imported)) == []


def test_tests_helpers_torch_is_followed_in_the_real_tree():
    """The real tests/helpers.py's torch() is one of the followed helpers: an unguarded call
    beside it is reported."""
    sources = {f.relative_to(ROOT).as_posix(): f.read_text() for f in sorted(TESTS.rglob("*.py"))}
    sources["tests/test_zz.py"] = "from tests import helpers\n\ndef test_x():\n    helpers.torch()\n"
    assert [f.split(" in ")[0] for f in check_sources(sources)] == [
        "tests/test_zz.py:4: helpers.torch() uses torch"]


@pytest.mark.parametrize("expression, markers", [
    ("requires_torch", {"torch"}),
    ("helpers.requires_torch", {"torch"}),
    ("pytest.mark.onnxscript", {"onnxscript"}),
    ("pytest.mark.torch(reason='x')", {"torch"}),
    ("requires('keras', 'h5py')", {"keras", "h5py"}),
    ("[pytest.mark.dask, pytest.mark.slow]", {"dask"}),
    ("pytest.mark.parametrize('a', [1])", set()),
    ("requires_nothing", set()),
])
def test_markers_of(expression, markers):
    assert markers_of(ast.parse(expression, mode="eval").body) == markers
