"""The package's shape (issue 22): no two modules import each other, no private name is used
outside its module, and the maintainer's guide (docs/maintaining.md) names every subpackage."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "resnet_utils"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in PACKAGE.rglob("*.py")}


def _imports(name: str, path: Path):
    """(module imported from, names) for every import in the file, functions included."""
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            yield source, [alias.name for alias in node.names]
        elif isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, []


def _dependencies(name: str, path: Path) -> set[str]:
    deps = set()
    for source, names in _imports(name, path):
        for imported in names:
            deps.add(f"{source}.{imported}" if f"{source}.{imported}" in MODULES else source)
        if not names:
            deps.add(source)
    # a module's own package (its __init__) is not a dependency in this sense
    return {d for d in deps if d in MODULES and d != name and not name.startswith(d + ".")}


def test_the_package_has_modules_to_check():
    assert len(MODULES) > 20 and "resnet_utils.models" in MODULES


def test_no_two_modules_import_each_other():
    graph = {name: _dependencies(name, path) for name, path in MODULES.items()}
    mutual = sorted((a, b) for a in graph for b in graph[a] if a < b and a in graph.get(b, ()))
    assert mutual == []


def test_no_private_name_is_imported_from_another_module():
    private = [
        (name, source, imported)
        for name, path in MODULES.items()
        for source, names in _imports(name, path)
        for imported in names
        if imported.startswith("_") and not imported.startswith("__")
    ]
    assert private == []


def test_the_maintainers_guide_names_every_subpackage():
    maintaining = (ROOT / "docs" / "maintaining.md").read_text()
    subpackages = sorted(p.parent.name for p in PACKAGE.glob("*/__init__.py"))
    assert len(subpackages) >= 6
    missing = [name for name in subpackages if f"- `{name}/`" not in maintaining]
    assert missing == []
