"""The import rules of docs/ARCHITECTURE.md section 1, checked on the source tree.

Every module of the library is given a layer (common < catalogs < emulators < inference < cli) and a
pipeline (IA, HEP, or none for shared code). A module may import modules of its own or a lower layer, of its
own pipeline or of shared code, never of the other pipeline. The test reads the imports with `ast`, so it
sees function-level (lazy) imports too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LAYERS = ("common", "catalogs", "emulators", "inference", "cli")
PIPELINES = {
    "ia": ("catalogs.halos", "catalogs.mocks", "emulators.ia", "inference.ia", "cli.ia"),
    "hep": ("catalogs.jets", "emulators.taggers", "inference.templates", "cli.hep"),
}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def library_modules() -> dict[str, Path]:
    return {module_name(p): p for top in LAYERS for p in sorted((ROOT / top).rglob("*.py"))}


def imported_modules(path: Path, known: set[str]) -> set[str]:
    """The library modules that `path` imports, resolved to the longest known dotted name."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [f"{node.module}.{alias.name}" for alias in node.names]
        for name in names:
            while name and name not in known:
                name = name.rpartition(".")[0]
            if name:
                found.add(name)
    return found


def layer(module: str) -> int:
    return LAYERS.index(module.split(".")[0])


def pipeline(module: str) -> str | None:
    for name, prefixes in PIPELINES.items():
        if any(module == p or module.startswith(p + ".") for p in prefixes):
            return name
    return None


def violations() -> list[str]:
    modules = library_modules()
    known = set(modules)
    found = []
    for module, path in modules.items():
        for target in imported_modules(path, known):
            if layer(target) > layer(module):
                found.append(f"{module} imports {target}, a higher layer")
            if pipeline(target) is not None and pipeline(target) != pipeline(module):
                where = f"the {pipeline(module)} pipeline" if pipeline(module) else "shared code"
                found.append(f"{module} ({where}) imports {target} of the {pipeline(target)} pipeline")
    return found


def test_every_library_module_has_a_layer_and_the_pipelines_are_populated() -> None:
    modules = library_modules()
    assert len(modules) > 60
    for prefixes in PIPELINES.values():
        for prefix in prefixes:
            assert prefix in modules, f"{prefix} is named in the rules but is not a package"


def test_imports_flow_down_the_layers_and_never_across_the_pipelines() -> None:
    assert violations() == []


def test_the_checker_sees_a_violation(tmp_path: Path) -> None:
    """The rule itself can fail: a catalogs module importing inference, or IA importing HEP, is caught."""
    code = "from inference.sampling import nuts\nimport emulators.taggers.pfn\n"
    probe = tmp_path / "probe.py"
    probe.write_text(code)
    targets = imported_modules(probe, set(library_modules()))
    assert targets == {"inference.sampling.nuts", "emulators.taggers.pfn"}
    assert layer("inference.sampling.nuts") > layer("catalogs.mocks.hod")
    assert pipeline("emulators.taggers.pfn") == "hep" != pipeline("catalogs.mocks.hod")


FIT_MODULES = ["inference.ia.fit", "inference.ia.likelihood", "inference.ia.emulator_jax"]


@pytest.mark.parametrize("module", FIT_MODULES)
def test_fits_do_not_import_torch(module: str) -> None:
    """The JAX side reads the exported weights file; torch is never imported by a fit's modules."""
    modules = library_modules()
    seen, todo = set(), [module]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        tree = ast.parse(modules[name].read_text())
        tops = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        tops |= {n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
        assert "torch" not in tops, f"{name}, imported by {module}, imports torch"
        todo.extend(imported_modules(modules[name], set(modules)))
