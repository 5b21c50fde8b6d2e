"""The package's layout: one folder per layer, imports that only point down, no import cycle, no
private name crossing a module boundary, no module over :data:`MAX_LINES` lines, the public
names of ``llu_core`` all importable, and the tests of every module where its name says.

The tests mirror the package: the tests of ``llu_core/<layer>/<module>.py`` are in
``tests/<layer>/test_<module>.py``, a private module's without its underscore
(``estimators/_base.py``: ``tests/estimators/test_base.py``, the contract every estimator shares),
and the command line's (``llu_core/__main__.py``) in ``tests/cli/test_main.py``. Tests of more
than the package sit beside them: ``tests/book/`` (the chapters through papermill, the built book),
``tests/scripts/`` (``scripts/``), and this file."""

import ast
import graphlib
import re
from pathlib import Path

import pytest

import llu_core

PACKAGE = Path(llu_core.__file__).resolve().parent
TESTS = Path(__file__).resolve().parent

#: What each layer may import of ours (besides itself), as the README's layout table says.
ALLOWED = {
    "utils": set(),
    "method": {"utils"},
    "backbones": {"utils"},
    "data": {"backbones", "utils"},
    "estimators": {"method", "utils"},
    "evaluation": {"estimators", "data", "backbones", "method", "utils"},
    "report": {"evaluation", "estimators", "data", "backbones", "method", "utils"},
    "__main__": {"report", "evaluation", "estimators", "data", "backbones", "method", "utils"},
}
#: The most lines a module of the package may have.
MAX_LINES = 450


def module_name(path, root):
    """The dotted name of the module in ``path`` inside the package folder ``root``."""
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path, root):
    """Every (imported module, imported names) of ours in the file ``path``, relative imports resolved."""
    name = module_name(path, root)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[:len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] == root.name:
                names = [alias.name for alias in node.names]
                if node.module is None:  # from . import module
                    found += [(f"{target}.{alias}", []) for alias in names]
                else:
                    found.append((target, names))
        elif isinstance(node, ast.Import):
            found += [(alias.name, []) for alias in node.names if alias.name.split(".")[0] == root.name]
    return name, found


def layer(module):
    """The layer of a dotted module name: its first folder below the package, or None at the top."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None


def layering_violations(root):
    """Imports that point up or sideways between layers, and modules outside any layer."""
    problems = []
    for path in sorted(root.rglob("*.py")):
        name, found = imports(path, root)
        source = layer(name)
        if source is None:
            continue  # the package's __init__: a lazy table of strings, no static import
        if source not in ALLOWED:
            problems.append(f"{name}: module outside the layers {sorted(ALLOWED)}")
            continue
        for target, _ in found:
            target_layer = layer(target)
            if target_layer is not None and target_layer != source and target_layer not in ALLOWED[source]:
                problems.append(f"{name} imports {target} ({source} -> {target_layer})")
    return problems


def import_graph(root):
    """``{module: the modules of ours it imports}``, imports inside functions included.

    ``from package import name`` points at the module ``package.name`` when there is one, else at
    the package.
    """
    modules = {module_name(path, root) for path in root.rglob("*.py")}
    graph = {}
    for path in sorted(root.rglob("*.py")):
        name, found = imports(path, root)
        targets = set()
        for target, names in found:
            targets |= {f"{target}.{n}" if f"{target}.{n}" in modules else target for n in names} or {target}
        graph[name] = targets - {name}
    return graph


def import_cycle(root):
    """One cycle of imports inside the package (``[a, b, ..., a]``), or ``[]`` when there is none."""
    try:
        graphlib.TopologicalSorter(import_graph(root)).prepare()
    except graphlib.CycleError as error:
        return error.args[1]
    return []


def private_imports(root):
    """Private names (``_x``) imported from another module, and private modules imported from
    outside their own folder."""
    problems = []
    for path in sorted(root.rglob("*.py")):
        name, found = imports(path, root)
        for target, names in found:
            private = [n for n in names if n.startswith("_")]
            if private and target != name:
                problems.append(f"{name} imports private {private} from {target}")
            folders = target.split(".")
            if any(part.startswith("_") and not part.startswith("__") for part in folders):
                owner = ".".join(folders[:-1])
                if not name.startswith(owner):
                    problems.append(f"{name} imports the private module {target}")
    return problems


def expected_test_file(module, root, tests):
    """Where the tests of the module file ``module`` of the package folder ``root`` live, below ``tests``."""
    relative = module.relative_to(root)
    folder = relative.parts[0] if len(relative.parts) > 1 else "cli"  # the top: the command line
    return tests / folder / f"test_{module.stem.strip('_')}.py"


def modules_without_tests(root, tests):
    """Every module of the package (``__init__`` aside) whose test file is missing or holds no test."""
    problems = []
    for module in sorted(root.rglob("*.py")):
        if module.name == "__init__.py":
            continue
        test_file = expected_test_file(module, root, tests)
        if not test_file.is_file() or not re.search(r"^def test_", test_file.read_text(), re.MULTILINE):
            problems.append(f"{module.relative_to(root.parent)}: no tests in {test_file.relative_to(tests.parent)}")
    return problems


def test_the_package_has_no_module_outside_a_layer():
    top = sorted(path.name for path in PACKAGE.glob("*.py"))
    assert set(top) <= {"__init__.py", "__main__.py"}, top
    assert {path.name for path in PACKAGE.iterdir() if path.is_dir() and path.name != "__pycache__"} == \
        set(ALLOWED) - {"__main__"}


def test_imports_only_point_down_the_layers():
    assert layering_violations(PACKAGE) == []


def test_no_import_cycle():
    cycle = import_cycle(PACKAGE)
    assert cycle == [], " -> ".join(cycle)


def test_no_private_name_crosses_a_module():
    assert private_imports(PACKAGE) == []


def test_no_module_is_over_the_line_limit():
    lines = {str(path.relative_to(PACKAGE)): len(path.read_text().splitlines()) for path in PACKAGE.rglob("*.py")}
    assert {module: n for module, n in lines.items() if n > MAX_LINES} == {}


def test_the_checks_see_a_bad_layout(tmp_path):
    """The two checks above fail on a package that breaks their rules (so they can fail)."""
    root = tmp_path / "llu_core"
    for folder, text in {"utils": "from ..report.tables import x\n",
                         "method": "from ..estimators._base import _check\nfrom ..utils.io import write\n",
                         "estimators": "from ..data.features import y\n", "report": "", "data": ""}.items():
        (root / folder).mkdir(parents=True)
        (root / folder / "__init__.py").write_text("")
        (root / folder / "module.py").write_text(text)
    (root / "__init__.py").write_text("")
    assert sorted(layering_violations(root)) == [
        "llu_core.estimators.module imports llu_core.data.features (estimators -> data)",
        "llu_core.method.module imports llu_core.estimators._base (method -> estimators)",
        "llu_core.utils.module imports llu_core.report.tables (utils -> report)"]
    assert private_imports(root) == [
        "llu_core.method.module imports private ['_check'] from llu_core.estimators._base",
        "llu_core.method.module imports the private module llu_core.estimators._base"]


def test_the_cycle_check_sees_an_import_inside_a_function(tmp_path):
    """A cycle closed by an import inside a function is a cycle; ``from . import module`` is an import
    of that module; a package that only imports down has none."""
    root = tmp_path / "llu_core"
    (root / "data").mkdir(parents=True)
    for path in (root / "__init__.py", root / "data" / "__init__.py"):
        path.write_text("")
    (root / "data" / "registry.py").write_text("from .images import Images\n")
    (root / "data" / "images.py").write_text("class Images:\n    pass\n")
    assert import_cycle(root) == []
    (root / "data" / "images.py").write_text("def load():\n    from . import registry\n")
    cycle = import_cycle(root)
    assert cycle[0] == cycle[-1] and set(cycle) == {"llu_core.data.registry", "llu_core.data.images"}


def test_every_module_has_its_tests_where_its_name_says():
    assert modules_without_tests(PACKAGE, TESTS) == []


def test_the_test_file_check_sees_a_module_without_tests(tmp_path):
    root, tests = tmp_path / "llu_core", tmp_path / "tests"
    for path in (root / "__init__.py", root / "__main__.py", root / "data" / "__init__.py", root / "data" / "cache.py",
                 root / "estimators" / "_base.py", tests / "data" / "test_cache.py", tests / "cli" / "test_main.py",
                 tests / "estimators" / "test_base.py"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("def test_it():\n    pass\n" if path.parent.parent == tests else "")
    assert modules_without_tests(root, tests) == []
    (tests / "estimators" / "test_base.py").write_text("def helper():\n    pass\n")  # a file without a test
    (tests / "cli" / "test_main.py").unlink()
    assert modules_without_tests(root, tests) == [
        "llu_core/__main__.py: no tests in tests/cli/test_main.py",
        "llu_core/estimators/_base.py: no tests in tests/estimators/test_base.py"]


@pytest.mark.parametrize("name", llu_core.__all__)
def test_every_public_name_imports(name):
    assert getattr(llu_core, name) is not None


def test_no_module_mentions_issues_or_a_machine_path():
    for path in PACKAGE.rglob("*.py"):
        text = path.read_text()
        assert "/work/" not in text, path
        assert not re.search(r"\bissues?\s+\d", text, re.IGNORECASE), path
