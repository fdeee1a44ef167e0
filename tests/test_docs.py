"""The documentation: the site builds with warnings as errors, and every example in it runs.

1. ``mkdocs build --strict`` succeeds (a griffe docstring/signature mismatch, a broken link or an
   unknown ``<!-- lionk:... -->`` directive is a warning, hence a failure), and what the build
   generates is complete: a reference page per public module, every option of every command,
   every claim, every figure (copied, not duplicated into docs/).
2. Every code example of ``README.md`` and ``docs/**/*.md`` runs: each ```` ```python ```` block in a
   subprocess (cwd a fresh temporary directory, ``MPLBACKEND=Agg``) must exit 0; in ```` ```bash ````
   and ```` ```console ```` blocks every ``lionk ...`` command runs through the ``lionk`` command
   installed next to the interpreter (the venv's ``bin/lionk``, so the entry point is tested too) and
   must exit with the expected code. One test per block, named ``FILE#N`` (N counts the python, bash and
   console blocks of the file from 1).

Markers, HTML comments on the lines just above a block:

``<!-- no-run: REASON -->``
    the block is not run; the reason is mandatory (a test fails without one).
``<!-- continues -->``
    the block needs what the previous run block of the same file left behind (its variables for
    Python, its files for commands): the chain runs in one directory, consecutive Python blocks as
    one script.
``<!-- save-as: NAME -->``
    a Python block is also saved as ``NAME`` in the directory (a module that later commands import).
``<!-- exit: N -->``
    the ``lionk`` commands of the block must exit with N instead of 0.
``<!-- slow: REASON -->``
    the block (and any block that continues it) runs with the slow tests only (CI runs them);
    for examples that take more than a few seconds of CPU.
``<!-- requires: MODULE[, MODULE...] -->``
    the block (and any block that continues it) needs an optional extra (torch, jax/optax,
    lion-pytorch): without one of these modules the test is skipped, visibly, naming the module.
    The only acceptable reason for an example not to run: ``no-run`` is for what cannot run anywhere.

Install and set-up lines (``pip install``, ``python3 -m venv``, ``. .venv/bin/activate``,
``python -m pytest``, ``mkdocs build``: the last two are what this suite and test 1 do) are not
run; any other non-``lionk`` command in a run block fails the test until it is marked. A block made
only of such lines is not an example to run (no test, no skip):
``test_install_commands_name_existing_extras`` checks the extras its ``pip install`` lines name.
"""

from __future__ import annotations

import argparse
import filecmp
import html
import importlib
import os
import pkgutil
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
RUN_LANGS = {"python", "bash", "console", "sh", "shell"}
#: generous: the slowest example (the README's ODE run) takes a few seconds on an idle machine;
#: the limit only turns a hang into a failure on a machine shared by several jobs
BLOCK_TIMEOUT_S = 600
#: the console script of the environment running the tests (pip install -e . puts it there)
LIONK = Path(sys.executable).with_name("lionk.exe" if os.name == "nt" else "lionk")

mkdocs = pytest.importorskip("mkdocs", reason="the docs extra is not installed: pip install -e '.[docs]'")


# ---------------------------------------------------------------------------------------------
# extracting the examples
# ---------------------------------------------------------------------------------------------
@dataclass
class Block:
    """One fenced code block of a Markdown file."""

    file: str  # relative to the repository root
    index: int  # 1-based among the RUN_LANGS blocks of the file
    line: int  # 1-based line of the opening fence
    lang: str
    code: str
    markers: dict = field(default_factory=dict)

    @property
    def id(self) -> str:
        return f"{self.file}#{self.index}"


_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,})(?P<lang>[\w-]*)[^\n]*$")
_MARKER = re.compile(r"^\s*<!--\s*(?P<key>no-run|continues|save-as|exit|slow|requires)\s*(?::\s*(?P<value>.*?))?\s*-->\s*$")


def doc_files() -> list[Path]:
    return [ROOT / "README.md"] + sorted(p for p in DOCS.rglob("*.md") if "_scripts" not in p.parts)


def extract_blocks(path: Path, root: Path = ROOT) -> list[Block]:
    """The python/bash/console blocks of ``path`` with the markers written just above them."""
    lines = path.read_text(encoding="utf-8").splitlines()
    rel = str(path.relative_to(root))
    blocks, i, n = [], 0, 0
    while i < len(lines):
        m = _FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        indent, fence, lang = m.group("indent"), m.group("fence"), m.group("lang").lower()
        j = i + 1
        while j < len(lines) and not lines[j].strip().startswith(fence):
            j += 1
        body = [ln[len(indent):] if ln.startswith(indent) else ln.lstrip() for ln in lines[i + 1:j]]
        if lang in RUN_LANGS:
            n += 1
            markers, k = {}, i - 1
            while k >= 0 and (not lines[k].strip() or lines[k].strip().startswith("<!--")):
                mm = _MARKER.match(lines[k])
                if mm:
                    markers.setdefault(mm.group("key"), (mm.group("value") or "").strip())
                k -= 1
            blocks.append(Block(rel, n, i + 1, lang, "\n".join(body) + "\n", markers))
        i = j + 1
    return blocks


ALL_BLOCKS = [b for p in doc_files() for b in extract_blocks(p)]


def chain(block: Block) -> list[Block]:
    """``block`` preceded by the blocks it continues (transitively)."""
    same = [b for b in ALL_BLOCKS if b.file == block.file and "no-run" not in b.markers]
    out = [block]
    while "continues" in out[0].markers:
        before = [b for b in same if b.index < out[0].index]
        if not before:
            pytest.fail(f"{out[0].id} (line {out[0].line}) is marked continues but no run block precedes it")
        out.insert(0, before[-1])
    return out


# ---------------------------------------------------------------------------------------------
# running them
# ---------------------------------------------------------------------------------------------
def _env() -> dict:
    env = dict(os.environ, MPLBACKEND="Agg")
    env.pop("LIONK_DEBUG", None)
    return env


def _not_run(argv: list[str]) -> bool:
    """Install / environment set-up / the test and docs-build commands themselves."""
    head = argv[0]
    if head in ("pip", "pip3") or head in (".", "source", "cd"):
        return True
    if head in ("python", "python3") and len(argv) > 2 and argv[1] == "-m" and argv[2] in ("venv", "pip", "pytest"):
        return True
    return head == "mkdocs" and len(argv) > 1 and argv[1] in ("build", "serve")


def shell_commands(block: Block) -> list[str]:
    """The commands of a bash/console block (continuation lines joined; console: ``$`` lines only)."""
    text = block.code.replace("\\\n", " ")
    cmds = []
    for line in text.splitlines():
        s = line.strip()
        if block.lang == "console":
            if not s.startswith("$ "):
                continue
            s = s[2:]
        if not s or s.startswith("#"):
            continue
        cmds += [part.strip() for part in s.split("&&") if part.strip()]
    return cmds


def run_python(code: str, cwd: Path, where: str) -> None:
    script = cwd / "_doc_example.py"
    script.write_text(code, encoding="utf-8")
    r = subprocess.run([sys.executable, script.name], cwd=cwd, env=_env(), capture_output=True, text=True,
                       timeout=BLOCK_TIMEOUT_S)
    assert r.returncode == 0, f"{where}: python example exited {r.returncode}\n{r.stdout[-2000:]}\n{r.stderr[-4000:]}"


def run_shell(block: Block, cwd: Path, reproduce_once=None) -> int:
    """Run the lionk commands of ``block``; returns how many ran.

    ``lionk reproduce`` commands (minutes each, made by several examples and tests) go through the
    session fixture ``reproduce_once`` (tests/conftest.py) when it is given: one run per distinct
    invocation, its exit code, output and report files given to each example that makes it."""
    want = int(block.markers.get("exit") or 0)
    ran = 0
    for cmd in shell_commands(block):
        argv = shlex.split(cmd, comments=True)
        env = _env()
        while argv and re.fullmatch(r"[A-Za-z_]\w*=.*", argv[0]):  # VAR=value lionk ...
            k, v = argv.pop(0).split("=", 1)
            env[k] = v
        if not argv or _not_run(argv):
            continue
        assert argv[0] == "lionk", (
            f"{block.id} (line {block.line}): the example command {cmd!r} is neither a lionk command nor an "
            "install step: mark the block <!-- no-run: why --> or make it runnable")
        assert LIONK.is_file(), f"no lionk command next to {sys.executable}: pip install -e . in this environment"
        if reproduce_once is not None and argv[1:2] == ["reproduce"] and "--list" not in argv:
            r = reproduce_once(argv[1:], cwd, env=env)
        else:
            r = subprocess.run([str(LIONK), *argv[1:]], cwd=cwd, env=env, capture_output=True,
                               text=True, timeout=BLOCK_TIMEOUT_S)
        assert r.returncode == want, (f"{block.id} (line {block.line}): `{cmd}` exited {r.returncode}, the docs "
                                      f"say {want}\n{r.stdout[-3000:]}\n{r.stderr[-2000:]}")
        assert "Traceback" not in r.stderr, r.stderr
        ran += 1
    return ran


def _install_only(b: Block) -> bool:
    """A bash/console block whose every command is an install or set-up step (nothing of lionk to run)."""
    if b.lang == "python" or "no-run" in b.markers:
        return False
    cmds = shell_commands(b)
    return bool(cmds) and all(_not_run(shlex.split(c, comments=True)) for c in cmds)


def _params():
    for b in ALL_BLOCKS:
        if _install_only(b):
            continue
        slow = "slow" in b.markers or any("slow" in c.markers for c in _chain_or_self(b))
        yield pytest.param(b, id=b.id, marks=[pytest.mark.slow] if slow else [])


def _chain_or_self(b: Block) -> list[Block]:
    try:
        return chain(b)
    except pytest.fail.Exception:  # reported by the test itself
        return [b]


@pytest.mark.parametrize("block", list(_params()))
def test_example_runs(block: Block, tmp_path, reproduce_once):
    if "no-run" in block.markers:
        reason = block.markers["no-run"]
        assert len(reason.split()) >= 2, (f"{block.id} (line {block.line}): <!-- no-run: ... --> needs a reason "
                                          f"(got {reason!r})")
        pytest.skip(f"not run: {reason}")
    steps = chain(block)
    for b in steps:  # an optional extra the example needs: a visible skip naming it, as for a test module
        for mod in filter(None, (m.strip() for m in b.markers.get("requires", "").split(","))):
            pytest.importorskip(mod, reason=f"{block.id} needs the optional module {mod} ({b.id} requires it)")
    pending: list[str] = []  # consecutive Python blocks run as one script (shared variables)
    for b in steps:
        if b.lang == "python":
            if "save-as" in b.markers:
                name = b.markers["save-as"]
                assert re.fullmatch(r"[\w.-]+", name or ""), f"{b.id}: bad save-as name {name!r}"
                (tmp_path / name).write_text(b.code, encoding="utf-8")
            pending.append(b.code)
            continue
        if pending:
            run_python("\n".join(pending), tmp_path, f"{block.id} (chain up to line {b.line})")
            pending = []
        n = run_shell(b, tmp_path, reproduce_once)
        if b is block:
            assert n > 0, f"{block.id} (line {block.line}): a run block in which no lionk command ran"
    if pending:
        run_python("\n".join(pending), tmp_path, f"{block.id} (line {block.line})")


def test_examples_were_found():
    """The extractor sees the examples it must run (a broken fence regex would skip them all)."""
    files = {b.file for b in ALL_BLOCKS}
    assert {"README.md", "docs/getting-started.md", "docs/recorded-runs.md"} <= files
    assert sum(b.lang == "python" for b in ALL_BLOCKS) >= 8
    assert sum(b.lang in ("bash", "console") for b in ALL_BLOCKS) >= 15


def _pyproject_extras() -> set[str]:
    import tomllib

    return set(tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
               ["optional-dependencies"])


def test_install_commands_name_existing_extras():
    """The install/set-up blocks (not run, see the module docstring) name extras that exist: a renamed or
    removed extra in ``pip install -e '.[x,y]'`` would otherwise fail only on the reader's machine."""
    install = [b for b in ALL_BLOCKS if _install_only(b)]
    assert {"README.md", "docs/getting-started.md"} <= {b.file for b in install}  # the scan sees them
    extras = _pyproject_extras()
    assert {"test", "docs"} <= extras
    named = set()
    for b in install:
        for cmd in shell_commands(b):
            for m in re.finditer(r"""['"]?\.\[([\w,-]+)\]['"]?""", cmd):
                named |= set(m.group(1).split(","))
                unknown = set(m.group(1).split(",")) - extras
                assert not unknown, f"{b.id} (line {b.line}): `{cmd}` names extras {sorted(unknown)} " \
                                    f"that pyproject.toml does not define ({sorted(extras)})"
    assert {"test", "docs"} <= named, named


def test_marker_parsing(tmp_path):
    """Markers are read from the comment lines right above a block, and only there."""
    md = tmp_path / "x.md"
    md.write_text("<!-- no-run: needs torch -->\n\n```python\nimport torch\n```\n\ntext\n\n"
                  "```bash\nlionk --version\n```\n<!-- exit: 1 -->\n<!-- continues -->\n```console\n$ lionk x\nout\n```\n"
                  "<!-- requires: torch, optax -->\n```bash\npip install -e '.[torch]'\n```\n",
                  encoding="utf-8")
    lines_blocks = extract_blocks(md, root=tmp_path)
    assert [(b.lang, b.markers) for b in lines_blocks] == [
        ("python", {"no-run": "needs torch"}), ("bash", {}), ("console", {"exit": "1", "continues": ""}),
        ("bash", {"requires": "torch, optax"})]
    assert shell_commands(lines_blocks[2]) == ["lionk x"]
    assert [_install_only(b) for b in lines_blocks] == [False, False, False, True]


# ---------------------------------------------------------------------------------------------
# the site
# ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def site(tmp_path_factory):
    out = tmp_path_factory.mktemp("site")
    env = dict(_env(), NO_MKDOCS_2_WARNING="1", DISABLE_MKDOCS_2_WARNING="true")
    r = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)], cwd=ROOT,
                       env=env, capture_output=True, text=True, timeout=BLOCK_TIMEOUT_S)
    assert r.returncode == 0, f"mkdocs build --strict failed:\n{r.stdout[-3000:]}\n{r.stderr[-6000:]}"
    # --strict aborts on any warning; a warning that did not abort would still be a defect
    assert not re.search(r"^WARNING\s+-", r.stderr, re.MULTILINE), r.stderr
    return out


def _page(site: Path, rel: str) -> str:
    p = site / rel / "index.html" if not rel.endswith(".html") else site / rel
    assert p.is_file(), f"the site has no {p.relative_to(site)}"
    return p.read_text(encoding="utf-8")


def _installed_public_modules() -> set[str]:
    """Every public module importable under lionk.*, found through the import system (not the docs' own walk)."""
    import tomllib

    pkgs = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]["packages"]
    out = set()
    for name in pkgs:
        if any(part.startswith("_") for part in name.split(".")):
            continue
        pkg = importlib.import_module(name)
        out.add(name)
        for info in pkgutil.iter_modules(pkg.__path__):
            if not info.ispkg and not info.name.startswith("_"):
                out.add(f"{name}.{info.name}")
    return out


def test_site_builds_strict_with_an_api_page_per_public_module(site):
    mods = _installed_public_modules()
    assert {"lionk.cli", "lionk.dynamics.kappa", "lionk.lyapunov.functions", "lionk.proofs.registry"} <= mods
    for name in sorted(mods):
        rel = "reference/" + name.replace(".", "/")
        text = _page(site, rel)
        # mkdocstrings gives the module heading the module's full name as its anchor
        assert f'id="{name}"' in text, f"{rel}: no documentation object for {name}"
    # Sphinx roles in docstrings are turned into links or code, never shown as :class:
    for page_file in (site / "reference").rglob("*.html"):
        assert not re.search(r":(class|func|mod|meth|data|attr|exc):<code>", page_file.read_text(encoding="utf-8")), \
            page_file


def test_every_command_page_lists_every_option(site):
    from lionk.cli import COMMANDS, build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    assert set(sub.choices) == set(COMMANDS)
    for name, p in sub.choices.items():
        text = _page(site, f"commands/{name}")
        rows = re.findall(r"<tr>\s*<td><code>(--[\w-]+)</code>", text)
        options = {s for a in p._actions for s in a.option_strings if s.startswith("--")}
        assert options - {"--help"} <= set(rows), f"commands/{name}: options missing from the table: " \
                                                  f"{sorted(options - set(rows))}"


def test_claims_page_lists_the_registry(site):
    from lionk.proofs import registry

    text = _page(site, "tutorials/reproducing-the-paper")
    assert len(registry.CLAIMS) == 10
    for c in registry.CLAIMS:
        title = c.title.replace("&", "&amp;")
        assert re.search(rf"<td>{re.escape(c.id)}</td>\s*<td>{re.escape(title)}</td>", text), c
        for v in c.variants:
            if v != "honest":
                assert f"<code>{v}</code>" in text, (c.id, v)


def test_figures_are_copied_not_duplicated(site):
    from lionk.figures import FIGURES

    assert not list(DOCS.rglob("*.png")), "PNGs belong in figures/, the build copies them"
    text = _page(site, "figures")
    # what the page shows, resolved against the page's own URL (figures/index.html)
    shown = {(site / "figures" / src).resolve() for src in re.findall(r'<img [^>]*src="([^"]+)"', text)}
    for spec in FIGURES.values():
        src = ROOT / "figures" / f"{spec.slug}.png"
        copy = (site / "figures" / src.name).resolve()
        assert copy in shown, f"the figures page does not show {spec.slug}"
        assert filecmp.cmp(src, copy, shallow=False), f"{spec.slug}: the site's copy differs from figures/"
        assert html.escape(spec.title.split(":")[0], quote=False) in text, f"{spec.slug}: caption missing"


def test_mathematics_page_has_typeset_formulas(site):
    text = _page(site, "mathematics")
    assert text.count('class="arithmatex"') >= 20


# ---------------------------------------------------------------------------------------------
# the guards themselves fail when they should (broken on purpose)
# ---------------------------------------------------------------------------------------------
def test_a_broken_example_fails(tmp_path):
    """A docs command that exits with another code than documented, or Python that raises, is a failure."""
    wrong_exit = Block("x.md", 1, 1, "bash", "lionk simulate --kappa l1 --objective quadratic --lr -1\n")
    with pytest.raises(AssertionError, match="exited 2, the docs say 0"):
        run_shell(wrong_exit, tmp_path)
    wrong_exit.markers["exit"] = "2"
    assert run_shell(wrong_exit, tmp_path) == 1  # the control: documented as exit 2, it passes
    with pytest.raises(AssertionError, match="python example exited 1"):
        run_python("import numpy as np\nassert np.sign(0.0) == 1\n", tmp_path, "x.md#2")
    stray = Block("x.md", 3, 1, "bash", "rm -rf build\n")
    with pytest.raises(AssertionError, match="neither a lionk command nor an install step"):
        run_shell(stray, tmp_path)


def _mini_site(tmp_path: Path, docstring: str) -> subprocess.CompletedProcess:
    """Build a one-page site whose API page documents ``mini.f`` with ``docstring``, using the
    mkdocstrings options of the real mkdocs.yml (so a warning it would give here, it gives there)."""
    import yaml

    real = yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))
    handler = next(p["mkdocstrings"] for p in real["plugins"] if isinstance(p, dict) and "mkdocstrings" in p)
    handler["handlers"]["python"]["paths"] = ["src"]
    (tmp_path / "src").mkdir(parents=True)
    (tmp_path / "src" / "mini.py").write_text(
        f'"""A module."""\n\n\ndef f(x):\n    """{docstring}"""\n    return x\n', encoding="utf-8")
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "index.md").write_text("# mini\n\n::: mini\n", encoding="utf-8")
    config = {"site_name": "mini", "strict": True, "theme": {"name": "material"},
              "plugins": [{"mkdocstrings": handler}]}
    (tmp_path / "mkdocs.yml").write_text(yaml.safe_dump(config), encoding="utf-8")
    return subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
                          cwd=tmp_path, env=dict(_env(), NO_MKDOCS_2_WARNING="1", DISABLE_MKDOCS_2_WARNING="true"),
                          capture_output=True, text=True, timeout=BLOCK_TIMEOUT_S)


def test_a_docstring_warning_fails_the_strict_build(tmp_path):
    good = "Identity.\n\n    Parameters\n    ----------\n    x : float\n        Input.\n    "
    bad = "Identity.\n\n    Parameters\n    ----------\n    y : float\n        Not a parameter of f.\n    "
    ok = _mini_site(tmp_path / "good", good)
    assert ok.returncode == 0, ok.stderr[-3000:]  # the control: the same project builds
    r = _mini_site(tmp_path / "bad", bad)
    assert r.returncode != 0, "a docstring naming a parameter that f does not have did not fail --strict"
    assert "does not appear in the function signature" in r.stderr, r.stderr[-3000:]


# ---------------------------------------------------------------------------------------------
# pages that must follow the code (checked without building the site)
# ---------------------------------------------------------------------------------------------
def test_every_command_has_a_page():
    """A command added to lionk.cli.COMMANDS needs its page, its nav entry and its row in the index
    (see docs/commands/index.md, 'Adding a command')."""
    from lionk.cli import COMMANDS

    nav = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    index = (DOCS / "commands" / "index.md").read_text(encoding="utf-8")
    for name in COMMANDS:
        page = DOCS / "commands" / f"{name}.md"
        how = "see docs/commands/index.md, 'Adding a command'"
        assert page.is_file(), f"lionk {name} has no page docs/commands/{name}.md ({how})"
        assert f"<!-- lionk:options {name} -->" in page.read_text(encoding="utf-8"), \
            f"docs/commands/{name}.md lacks the line <!-- lionk:options {name} --> ({how})"
        assert f"commands/{name}.md" in nav, f"mkdocs.yml's nav does not list commands/{name}.md ({how})"
        assert f"[`lionk {name}`]({name}.md)" in index, f"docs/commands/index.md has no row for lionk {name} ({how})"


#: names the code reads off a K that are internal to the catalogue and expression K (not protocol):
#: ``obj`` (the wrapped object of ObjectKappa), ``name`` (set by lionk), ``sym_spec`` and
#: ``conj_method`` (produced by the expression parser), ``delta`` (the catalogue huber's parameter, read
#: by the compiled kernels only for catalogue K named in ``kernels.BITWISE``), ``derived`` and
#: ``smoothness`` (what lionk's ObjectKappa adapter records about what it derived or measured; read by
#: the claims of ``reproduce --kappa``, never looked up on the user's object)
_INTERNAL = {"obj", "name", "sym_spec", "conj_method", "delta", "derived", "smoothness"}


def protocol_names_read_by_code() -> set[str]:
    """Every attribute or method name that lionk's code looks up on a K by name (getattr/hasattr).

    ``K``/``kappa``/``self.obj`` are a K everywhere; ``obj`` is the user's K object only in the modules
    that adapt and check it (elsewhere, e.g. lyapunov/checks.py, ``obj`` is an objective).
    """
    on_k = re.compile(r"""(?:getattr|hasattr|_has)\(\s*(?:K|kappa|self\.obj)\s*,\s*["'](\w+)["']""")
    on_obj = re.compile(r"""(?:getattr|hasattr)\(\s*obj\s*,\s*["'](\w+)["']""")
    copied = re.compile(r"for attr in \(([^)]*)\):\s*\n\s*if hasattr\(obj, attr\)")
    user_object_modules = {ROOT / "lyapunov" / f for f in ("user_kappa.py", "object_kappa.py", "consistency.py")}
    user_object_modules.add(ROOT / "dynamics" / "object_kappa.py")  # the adapter (moved to dynamics, issue 11)
    names = set()
    for folder in ("dynamics", "lyapunov", "proofs", "lionk"):
        for py in (ROOT / folder).rglob("*.py"):
            text = py.read_text(encoding="utf-8")
            names |= set(on_k.findall(text))
            if py in user_object_modules:
                names |= set(on_obj.findall(text))
                for group in copied.findall(text):
                    names |= set(re.findall(r"""["'](\w+)["']""", group))
    return names - _INTERNAL


def test_kappa_protocol_page_documents_what_the_code_reads():
    names = protocol_names_read_by_code()
    # the scan sees what it must (a broken regex would find nothing and pass vacuously)
    assert {"prox", "kinks", "support_function", "smooth", "separable", "dual_project", "conj",
            "conj_grad", "event_ndim", "bounded_domain", "constraint"} <= names, names
    page = (DOCS / "kappa-protocol.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"^\| `(\w+)(?:\([^`]*\))?` \|", page, re.MULTILINE))
    assert {"value", "grad"} <= documented
    missing = names - documented
    assert not missing, f"docs/kappa-protocol.md has no table row for {sorted(missing)}, which lionk reads off a K"


def test_readme_test_command_is_what_ci_runs():
    """The README's test command and .ci/run run the same thing (install extras, pytest selection)."""
    ci = [ln.strip() for ln in (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
          if ln.strip() and not ln.startswith("#") and not ln.startswith(("set ", "cd ", "export "))]
    assert len(ci) == 1 and "pytest" in ci[0], ci
    readme = [b.code.strip() for b in ALL_BLOCKS if b.file == "README.md" and b.lang == "bash"]
    assert ci[0] in readme, f".ci/run runs {ci[0]!r}, which is not a command block of README.md"
    assert {"docs", "test"} <= _expand_extras(re.search(r"\.\[([\w,-]+)\]", ci[0]).group(1).split(",")), \
        "CI must install the docs and test extras"


def _expand_extras(names) -> set:
    """Extras named, with the project's own ``lionk[a,b]`` references expanded (``all``)."""
    import tomllib

    table = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["optional-dependencies"]
    out, todo = set(), list(names)
    while todo:
        n = todo.pop()
        if n in out:
            continue
        out.add(n)
        for req in table.get(n, []):
            m = re.match(r"lionk\[([\w,-]+)\]", req)
            if m:
                todo += m.group(1).split(",")
    return out
