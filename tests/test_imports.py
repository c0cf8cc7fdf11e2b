"""Imports point one way (DESIGN.md): no module of convolve imports one that imports it back,
directly or through others, and no layer of the library imports a layer above it.

Every import statement counts, also one inside a function (a lazy import is still an arrow).
Only the package's own ``convolve/__init__.py``, which gathers the public names, may import
from everywhere; nothing may import it back.
"""
from __future__ import annotations

import ast
from pathlib import Path

import convolve

ROOT = Path(convolve.__file__).parent

#: the layers, bottom to top: a module may import its own layer and the ones below it
LAYERS = [
    {"_version", "_files", "backend", "config", "random", "variables", "ops"},
    {"autograd", "initializers", "regularizers", "losses", "metrics", "activations"},
    {"optimizers", "callbacks"},
    {"layers", "filters"},
    {"saving", "images"},
    {"data"},
    {"models", "utils"},
    {"datasets", "viz"},
    {"dask"},
    {"web"},
    {"cli", "__main__"},
]
LEVEL = {name: k for k, names in enumerate(LAYERS) for name in names}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def is_package(name: str) -> bool:
    return (ROOT.parent / name.replace(".", "/") / "__init__.py").exists()


def exists(name: str) -> bool:
    path = ROOT.parent / name.replace(".", "/")
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


def imports_of(path: Path) -> set:
    """The convolve modules ``path`` imports, anywhere in the file."""
    name = module_name(path)
    package = name if is_package(name) else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.split(".")[0] == "convolve")
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                source = ".".join(base + ([node.module] if node.module else []))
            elif node.module and node.module.split(".")[0] == "convolve":
                source = node.module
            else:
                continue
            for alias in node.names:  # `from pkg import submodule` imports the submodule
                target = f"{source}.{alias.name}"
                found.add(target if exists(target) else source)
    return found


def graph() -> dict:
    return {module_name(p): imports_of(p) for p in ROOT.rglob("*.py")}


def top(name: str) -> str:
    return name.split(".")[1] if name.count(".") else ""


def cycles(edges: dict) -> list:
    """Strongly connected components with more than one module (Tarjan, iteratively)."""
    index, low, on_stack, stack, found, counter = {}, {}, set(), [], [], [0]
    for start in edges:
        if start in index:
            continue
        work = [(start, iter(sorted(edges.get(start, ()))))]
        index[start] = low[start] = counter[0]
        counter[0] += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter[0]
                    counter[0] += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_the_checker_finds_a_cycle_and_resolves_relative_imports():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []
    found = imports_of(ROOT / "layers" / "base.py")
    assert (
        "convolve.autograd" in found
        and "convolve.ops.shapes" in found
        and "convolve.layers.symbolic" in found
    )


def test_no_import_cycles():
    edges = {
        name: {t for t in targets if t != "convolve"}
        for name, targets in graph().items()
        if name != "convolve"
    }
    assert cycles(edges) == []


def test_nothing_imports_the_package_root():
    offenders = sorted(
        name for name, targets in graph().items() if name != "convolve" and "convolve" in targets
    )
    assert offenders == []


def test_imports_point_down_the_layers():
    unknown = sorted({top(n) for n in graph() if n != "convolve"} - set(LEVEL))
    assert unknown == [], f"modules missing from LAYERS: {unknown}"
    upward = sorted(
        f"{name} imports {target}"
        for name, targets in graph().items() if name != "convolve"
        for target in targets if target != "convolve" and LEVEL[top(target)] > LEVEL[top(name)]
    )
    assert upward == []


def test_import_convolve_stays_light():
    """``import convolve`` loads no optional library and not Numba: the compiled kernels
    (convolve/ops/kernels/) import it the first time one runs."""
    import subprocess
    import sys

    code = (
        "import sys, convolve\n"
        "heavy = ('numba', 'llvmlite', 'convolve.ops.kernels.elementwise', 'convolve.ops.kernels.pooling',\n"
        "         'convolve.ops.kernels.optimizers', 'matplotlib', 'PIL', 'scipy', 'torch', 'dask')\n"
        "print(sorted(name for name in heavy if name in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
