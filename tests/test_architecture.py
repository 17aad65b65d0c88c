"""The layers of docs/architecture.md, checked on the package's own imports (every import, also
those inside functions): no package imports one above it, inference never imports training, and
packages form no cycle."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "dnaseq_cli"
GROUND = {
    "",
    "errors",
    "output",
    "records",
    "device",
    "threads",
    "shards",
    "checksums",
    "allocator",
    "__main__",
}
# what each package may import besides the ground floor (and itself)
ALLOWED = {
    "io": set(),
    "encode": {"io"},
    "windows": {"io", "encode"},
    "models": {"io", "encode"},
    "data": {"io", "encode", "windows"},
    "report": {"io", "encode"},
    "fetch": {"io"},
    "predict": {"io", "encode", "windows", "data", "models"},
    "vep": {"io", "encode", "windows", "data", "models", "predict"},
    "explain": {"io", "encode", "windows", "data", "models", "predict"},
    "engine": {"io", "encode", "windows", "data", "models", "report"},
}


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports() -> dict[str, set[str]]:
    """Module -> the dnaseq_cli modules it imports anywhere in its body."""
    graph: dict[str, set[str]] = defaultdict(set)
    for path in PACKAGE.rglob("*.py"):
        module = _module_name(path)
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                continue
            graph[module].update(n for n in names if n.split(".")[0] == "dnaseq_cli")
    return graph


def package(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def test_every_package_imports_only_the_layers_below_it():
    broken = []
    for module, targets in sorted(imports().items()):
        source = package(module)
        if source in ("cli", "__main__"):  # the entry points may reach every layer
            continue
        if source in GROUND:
            allowed = GROUND
        else:
            allowed = GROUND | ALLOWED[source] | {source}
        for target in sorted(targets):
            dest = package(target)
            if dest in allowed:
                continue
            if source in GROUND and dest in GROUND:
                continue
            broken.append(f"{module} -> {target}")
    assert not broken, broken


def test_ground_floor_imports_nothing_above_it():
    above = [f"{m} -> {t}" for m, ts in imports().items() if package(m) in GROUND - {"__main__", ""}
             for t in ts if package(t) not in GROUND]  # fmt: skip
    assert not above, above


def test_no_package_cycle():
    graph: dict[str, set[str]] = defaultdict(set)
    for module, targets in imports().items():
        for target in targets:
            if package(module) != package(target) and package(module) not in ("", "__main__"):
                graph[package(module)].add(package(target))
    seen: set[str] = set()
    stack: list[str] = []

    def visit(node: str) -> None:
        if node in stack:
            raise AssertionError(
                "package cycle: " + " -> ".join([*stack[stack.index(node) :], node])
            )
        if node in seen:
            return
        stack.append(node)
        for nxt in sorted(graph[node]):
            if nxt not in ("",):
                visit(nxt)
        stack.pop()
        seen.add(node)

    for node in sorted(graph):
        visit(node)


def test_every_package_has_a_layer():
    packages = {package(m) for m in imports()} | {p.name for p in PACKAGE.iterdir() if p.is_dir()
                                                   and (p / "__init__.py").exists()}  # fmt: skip
    assert packages - GROUND - {"cli"} <= set(ALLOWED), packages - GROUND - {"cli"} - set(ALLOWED)


def _backbone_modules() -> set[str]:
    """The modules (or packages) under dnaseq_cli/models that hold a registered backbone."""
    from dnaseq_cli.models import registry

    names = {registry.get(name).__module__.split(".")[2] for name in registry.available()}
    assert names >= {"bigbird", "caduceus", "cnn", "gnn", "hybrid", "kmer"}, names
    return names


BACKBONES = _backbone_modules()


def _backbone(module: str) -> str | None:
    parts = module.split(".")
    if len(parts) >= 3 and parts[1] == "models" and parts[2] in BACKBONES:
        return parts[2]
    return None


def test_no_backbone_imports_another_backbone():
    """Shared blocks live in models/layers.py: adding a backbone is one module, not a web."""
    crossing = [f"{m} -> {t}" for m, ts in imports().items() for t in ts
                if _backbone(m) and _backbone(t) and _backbone(m) != _backbone(t)]  # fmt: skip
    assert not crossing, crossing


def _imported_names(module: str) -> dict[str, set[str]]:
    """``{dnaseq_cli module: names imported from it}`` for one module (imports in functions too)."""
    path = PACKAGE.parent.joinpath(*module.split(".")).with_suffix(".py")
    names: dict[str, set[str]] = defaultdict(set)
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names[node.module].update(alias.name for alias in node.names)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                names[alias.name].add("*")
    return names


def test_folder_building_commands_only_parse():
    """dnaseq train and compare --run hand run folders, datasets and preprocessing to the library
    (engine/run.py, data/preprocess.open_or_build), and dnaseq ensemble hands naming, checking and
    calibrating its members and its output folder to predict/ensemble.make_ensemble: they import
    none of it themselves."""
    allowed = {
        "dnaseq_cli.data.preprocess": {"PreprocessOptions"},
        "dnaseq_cli.engine.run": {"train", "train_backbones", "RunResult"},
        "dnaseq_cli.predict.ensemble": {"make_ensemble"},
    }
    forbidden = {"dnaseq_cli.output", "dnaseq_cli.data.dataset", "dnaseq_cli.device"}
    # compare passes checkpoint.read_spec to report; ensemble reads no checkpoint itself
    commands = {
        "dnaseq_cli.cli.train": forbidden,
        "dnaseq_cli.cli.compare": forbidden,
        "dnaseq_cli.cli.ensemble": forbidden | {"dnaseq_cli.models.checkpoint"},
    }
    wrong = []
    for module, refused in commands.items():
        for source, names in _imported_names(module).items():
            if source in refused or not names <= allowed.get(source, names):
                wrong.append(f"{module}: from {source} import {', '.join(sorted(names))}")
    assert not wrong, wrong
