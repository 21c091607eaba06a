"""The docs tell the truth about the code: every setting is documented and every documented
setting exists, the README's tree of ``webapp/`` is the package's, and every module, test
or setting a doc or docstring names is there. Each check reads whatever the tree is today,
so a rename that forgets its docs fails here.
"""

from __future__ import annotations

import ast
import fnmatch
import re
from collections.abc import Iterator
from pathlib import Path

from webapp.config import RENAMED, defaults

ROOT = Path(__file__).resolve().parent.parent
#: the Markdown a user reads
DOCS = sorted(
    [ROOT / "README.md", *(ROOT / "docs").glob("*.md"), *(ROOT / "data").rglob("README.md")]
)
#: what code may read a setting from: the process environment or a make variable
CODE = sorted(
    [*ROOT.glob("*.py"), *(ROOT / "webapp").rglob("*.py"), *(ROOT / "benchmarks").glob("*.py")]
    + [*(ROOT / "tests").glob("*.py"), ROOT / "Makefile", ROOT / ".ci" / "run"]
)
#: a setting's name: capitals with at least one underscore (``SIMILAR_COUNT``, ``OMP_NUM_THREADS``)
SETTING = re.compile(r"\b[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+\b")
PACKAGE_DIRS = sorted(p.parent for p in (ROOT / "webapp").glob("*/__init__.py"))


def _modules(package: Path) -> set[str]:
    """The module files directly in ``package`` (``__init__.py`` aside)."""
    return {p.name for p in package.glob("*.py") if p.name != "__init__.py"}


def _docstrings(path: Path) -> Iterator[str]:
    """Every docstring of a Python file: module, classes and functions."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(
            node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef
        ) and (doc := ast.get_docstring(node)):
            yield doc


def _texts() -> Iterator[tuple[str, str]]:
    """(where, text) of each doc and each docstring of the package and benchmarks."""
    for doc in DOCS:
        yield str(doc.relative_to(ROOT)), doc.read_text(encoding="utf-8")
    for path in sorted([*(ROOT / "webapp").rglob("*.py"), *(ROOT / "benchmarks").glob("*.py")]):
        for doc in _docstrings(path):
            yield str(path.relative_to(ROOT)), doc


def _readme_tables() -> list[str]:
    """The first cell of every row of the README's settings tables."""
    return [
        line.split("|")[1]
        for line in (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
        if line.startswith("| `")
    ]


def _read_by_code(name: str) -> bool:
    """``name`` appears in code as a quoted string (an environment read) or a make variable."""
    quoted = re.compile(rf"""["']{name}["']|\$\({name}\)|\$\{{?{name}\b""")
    return any(quoted.search(path.read_text(encoding="utf-8")) for path in CODE)


def _known_in_code(name: str) -> bool:
    """``name`` is read by code (:func:`_read_by_code`) or is a constant it defines or uses."""
    constant = re.compile(rf"^\s*{name}\s*[:=]|\.{name}\b", re.M)
    return _read_by_code(name) or any(
        constant.search(path.read_text(encoding="utf-8")) for path in CODE
    )


def test_every_setting_has_a_row_in_the_readme_and_every_row_is_read() -> None:
    settings = set(defaults(str(ROOT / "instance")))
    documented = {name for cell in _readme_tables() for name in re.findall(r"`(\w+)`", cell)}
    assert sorted(settings - documented) == [], "settings missing from README's tables"
    for name in sorted(documented - settings):
        assert name in RENAMED or _read_by_code(name), f"README documents {name}: nothing reads it"


#: upper-case names docs quote that are not ours: other programs' variables and options, CPU
#: flags (each says what reads it where it is quoted)
FOREIGN = frozenset(
    {"FAISS_OPT_LEVEL", "MKL_VERBOSE", "ONEDNN_VERBOSE", "ORT_ENABLE_ALL", "SSE4_2"}
)


def test_settings_named_in_docs_and_docstrings_exist() -> None:
    settings = set(defaults(str(ROOT / "instance"))) | FOREIGN
    unknown = set()
    for where, text in _texts():
        for span in re.findall(r"``?([^`\n]+)``?", text):
            for name in SETTING.findall(span):
                if name not in settings and name not in RENAMED and not _known_in_code(name):
                    unknown.add(f"{where}: {name}")
    assert sorted(unknown) == []


def _readme_tree() -> dict[Path, set[str]]:
    """Package folder → the module names (or globs) the README's ``webapp/`` tree gives it."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"```\nwebapp/\n(.*?)```", text, re.S)
    assert block, "README.md has no ```webapp/ tree block"
    tree: dict[Path, set[str]] = {ROOT / "webapp": set()}
    current = top = ROOT / "webapp"
    for line in block.group(1).splitlines():
        indent = len(line) - len(line.lstrip())
        head = re.match(r"\s*(\w+)/", line)
        if indent == 2:  # a sub-package of webapp/, or a line of top-level modules
            current = top = ROOT / "webapp" / head.group(1) if head else ROOT / "webapp"
        elif indent == 4:  # a package inside a sub-package, or a line of that sub-package
            current = top / head.group(1) if head else top
        tree.setdefault(current, set()).update(re.findall(r"(?<![\w/])([\w*]+\.py)\b", line))
    return tree


def test_the_readme_tree_is_the_package() -> None:
    tree = _readme_tree()
    assert sorted(p.name for p in tree if p.parent == ROOT / "webapp") == sorted(
        p.name for p in PACKAGE_DIRS
    ), "sub-packages"
    for package, named in tree.items():
        real = _modules(package) | {"__init__.py"}
        made_up = sorted(n for n in named if not fnmatch.filter(real, n))
        left_out = sorted(
            m for m in real - {"__init__.py"} if not any(fnmatch.fnmatch(m, n) for n in named)
        )
        where = package.relative_to(ROOT)
        assert made_up == [], f"README's tree names modules {where}/ does not have"
        assert left_out == [], f"README's tree leaves out modules of {where}/"


def _path_exists(ref: str) -> bool:
    """A ``pkg/module.py``-style reference (globs allowed) names at least one file."""
    candidates = [ref] if ref.split("/")[0] in ("webapp", "benchmarks", "tests") else []
    candidates.append(f"webapp/{ref}")
    return any(list(ROOT.glob(c)) for c in candidates)


def _names_defined(path: Path) -> set[str]:
    """Top-level names a module defines or imports."""
    names: set[str] = set()
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.FunctionDef | ast.ClassDef | ast.AsyncFunctionDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names.update(t.id for t in targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.Import | ast.ImportFrom):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
    return names


def _logger_names() -> set[str]:
    """Logger names given in code (``getLogger("webapp.requests")``): not modules."""
    found: set[str] = set()
    for path in CODE:
        found.update(re.findall(r"getLogger\(\"([\w.]+)\"\)", path.read_text(encoding="utf-8")))
    return found


def _dotted_exists(ref: str) -> bool:
    """``webapp.pkg.module[.name]`` is a module, or a name defined in one."""
    parts = ref.split(".")
    for cut in range(len(parts), 0, -1):
        base = ROOT.joinpath(*parts[:cut])
        source = (
            base.with_suffix(".py") if base.with_suffix(".py").exists() else base / "__init__.py"
        )
        if source.exists():
            rest = parts[cut:]
            return not rest or rest[0] in _names_defined(source) or (base / rest[0]).is_dir()
    return False


def test_modules_and_tests_named_in_docs_and_docstrings_exist() -> None:
    packages = "|".join(p.name for p in PACKAGE_DIRS)
    path_ref = re.compile(
        rf"(?<![\w/.-])((?:webapp/)?(?:{packages})/[\w*]+\.py|webapp/[\w*]+\.py"
        r"|benchmarks/[\w*]+\.py|tests/[\w*]+\.py(?:::\w+)?)"
    )
    basenames = {
        p.name for d in ("webapp", "benchmarks", "tests") for p in (ROOT / d).rglob("*.py")
    }
    basenames |= {p.name for p in ROOT.glob("*.py")}
    loggers = _logger_names()
    wrong = set()
    for where, text in _texts():
        for ref in path_ref.findall(text):
            path, _, test = ref.partition("::")
            if not _path_exists(path):
                wrong.add(f"{where}: {ref}")
            elif test and not re.search(rf"def {test}\(", (ROOT / path).read_text("utf-8")):
                wrong.add(f"{where}: {ref}")
        for name in re.findall(r"(?<![\w/.*-])(\w+\.py)\b", text):
            if name not in basenames:
                wrong.add(f"{where}: {name}")
        for ref in re.findall(r"(?<![\w.])webapp(?:\.\w+)+", text):
            if ref not in loggers and not _dotted_exists(ref):
                wrong.add(f"{where}: {ref}")
    assert sorted(wrong) == []


def test_each_package_docstring_names_only_its_own_modules() -> None:
    for package in PACKAGE_DIRS:
        doc = ast.get_docstring(ast.parse((package / "__init__.py").read_text("utf-8"))) or ""
        for name in re.findall(r"``([a-z_]+)``", doc):
            assert (package / f"{name}.py").exists() or (package / name).is_dir(), (
                f"{package.relative_to(ROOT)}/__init__.py names ``{name}``: no such module"
            )
