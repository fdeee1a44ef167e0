"""What the documentation build generates from the code, so that the site cannot go stale.

Used by ``hooks.py`` (MkDocs hooks) and ``gen_pages.py`` (mkdocs-gen-files). Nothing here is a
page; ``mkdocs.yml`` excludes ``docs/_scripts/`` from the site.

* :func:`stage_api_tree` mirrors the *installed* layout of lionk (``lionk/``, ``dynamics/`` →
  ``lionk/dynamics``, ...; read from pyproject.toml) as a tree of symlinks, so that griffe (the
  static analyser behind mkdocstrings) sees one package ``lionk``, and :func:`public_modules` walks it.
* :func:`options_markdown` renders the option reference of a sub-command from
  ``lionk.cli.build_parser()``.
* :func:`claims_markdown` renders the claim list from ``lionk.proofs.registry``.
* :func:`figures_markdown` renders the figure gallery from ``lionk.figures.FIGURES``.
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

#: the repository root (this file is docs/_scripts/lionk_docs.py)
ROOT = Path(__file__).resolve().parents[2]
#: where stage_api_tree builds the mirror (``build/`` is ignored by git); mkdocs.yml's
#: mkdocstrings ``paths`` points here
API_TREE = ROOT / "build" / "docs-api"


class DocsBuildError(RuntimeError):
    """A generated part of the docs cannot be produced (the build must stop)."""


# ---------------------------------------------------------------------------------------------
# the API tree
# ---------------------------------------------------------------------------------------------
def package_dirs() -> dict[str, Path]:
    """Each installed package of the project → its source folder, as setuptools resolves it.

    Returns
    -------
    dict of str to Path
        ``{"lionk": ROOT/"lionk", "lionk.dynamics": ROOT/"dynamics", ...}`` for every entry of
        ``[tool.setuptools] packages`` in pyproject.toml (the list the wheel is built from).
    """
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    st = meta["tool"]["setuptools"]
    mapping = st.get("package-dir", {})
    out = {}
    for pkg in st["packages"]:
        parts = pkg.split(".")
        # setuptools: the longest mapped prefix wins, the rest of the name is a sub-folder
        for k in range(len(parts), -1, -1):
            prefix = ".".join(parts[:k])
            if prefix in mapping or (k == 0 and "" in mapping):
                base = ROOT / mapping.get(prefix, "")
                out[pkg] = base.joinpath(*parts[k:])
                break
        else:
            out[pkg] = ROOT.joinpath(*parts)
        if not (out[pkg] / "__init__.py").is_file():
            raise DocsBuildError(f"package {pkg} of pyproject.toml has no {out[pkg]}/__init__.py")
    return out


def stage_api_tree(target: Path = API_TREE) -> Path:
    """Mirror the installed package layout under ``target`` with symlinks to the source files.

    Every package directory is a real directory; every ``.py`` file in it is a symlink to the
    source, so the docstrings griffe reads are the repository's. Entries that no longer exist in
    the sources (a renamed module) are removed.

    Parameters
    ----------
    target : Path
        Root of the mirror (``target/lionk/...``).

    Returns
    -------
    Path
        ``target``.
    """
    wanted: dict[Path, Path] = {}
    for pkg, src in package_dirs().items():
        pdir = target.joinpath(*pkg.split("."))
        for f in sorted(src.glob("*.py")):
            wanted[pdir / f.name] = f
    target.mkdir(parents=True, exist_ok=True)
    # drop stale links and directories
    for dirpath, dirnames, filenames in os.walk(target, topdown=False):
        for name in filenames:
            p = Path(dirpath) / name
            if p not in wanted or not p.is_symlink() or Path(os.readlink(p)) != wanted[p]:
                p.unlink()
        for name in dirnames:
            d = Path(dirpath) / name
            if d.is_symlink():
                d.unlink()
            elif not any(d.iterdir()):
                d.rmdir()
    for link, src in wanted.items():
        link.parent.mkdir(parents=True, exist_ok=True)
        if not link.is_symlink():
            try:
                link.symlink_to(src)
            except FileExistsError:  # a concurrent build made the same link
                pass
    return target


@dataclass(frozen=True)
class ModuleDoc:
    """One public module of the API reference.

    Attributes
    ----------
    name : str
        Dotted import name, e.g. ``"lionk.dynamics.kappa"``.
    page : str
        Path of its page inside the docs, e.g. ``"reference/lionk/dynamics/kappa.md"``.
    is_package : bool
        True for a package (its ``__init__``).
    """

    name: str
    page: str
    is_package: bool


def public_modules(tree: Path = API_TREE) -> list[ModuleDoc]:
    """Every public module of the staged tree, packages first within each folder, sorted by name.

    A module is public when no part of its dotted name starts with ``_`` (``__init__`` stands for
    its package; ``__main__`` and ``_private`` modules are left out).

    Returns
    -------
    list of ModuleDoc
    """
    mods = []
    for init in sorted(tree.rglob("__init__.py")):
        pkg_parts = init.parent.relative_to(tree).parts
        if any(p.startswith("_") for p in pkg_parts):
            continue
        mods.append(ModuleDoc(".".join(pkg_parts), "reference/" + "/".join(pkg_parts) + "/index.md", True))
        for f in sorted(init.parent.glob("*.py")):
            if f.stem.startswith("_"):
                continue
            parts = pkg_parts + (f.stem,)
            mods.append(ModuleDoc(".".join(parts), "reference/" + "/".join(parts) + ".md", False))
    return sorted(mods, key=lambda m: (m.name.split("."), not m.is_package))


# ---------------------------------------------------------------------------------------------
# command options
# ---------------------------------------------------------------------------------------------
def _md(text: str) -> str:
    """Escape what would break a Markdown table cell or be read as emphasis/HTML."""
    return (text.replace("\\", "\\\\").replace("|", "\\|").replace("*", "\\*").replace("_", "\\_")
            .replace("<", "&lt;").replace(">", "&gt;").replace("\n", " "))


def subparser(command: str) -> argparse.ArgumentParser:
    """The argparse parser of ``lionk COMMAND``, from ``lionk.cli.build_parser()``."""
    from lionk.cli import build_parser

    parser = build_parser()
    for action in parser._actions:  # argparse keeps sub-parsers in a private action; no public API
        if isinstance(action, argparse._SubParsersAction):
            if command in action.choices:
                return action.choices[command]
            raise DocsBuildError(f"lionk has no command {command!r}; it has {', '.join(action.choices)}")
    raise DocsBuildError("lionk.cli.build_parser() has no sub-commands")


def _value(action: argparse.Action) -> str:
    if action.nargs == 0:
        return ""
    if action.choices is not None:
        return "{" + ",".join(map(str, action.choices)) + "}"
    return action.metavar if isinstance(action.metavar, str) else action.dest.upper()


def _default(action: argparse.Action) -> str:
    d = action.default
    if action.nargs == 0 or d is None or d is argparse.SUPPRESS or d == []:
        return ""
    return f"`{d}`"


def options_markdown(command: str) -> str:
    """The option reference of ``lionk COMMAND`` as Markdown: usage, one table per option group,
    the mutually exclusive choices, and the full ``--help`` text in a collapsed block.

    Parameters
    ----------
    command : str
        A sub-command name, e.g. ``"check"``.

    Returns
    -------
    str
        Markdown.
    """
    p = subparser(command)
    fmt = p._get_formatter()
    out = ["```text", p.format_usage().strip(), "```", ""]
    for group in p._action_groups:
        actions = [a for a in group._group_actions if a.help is not argparse.SUPPRESS]
        if not actions:
            continue
        title = "options" if group.title in ("optional arguments", "options") else group.title
        out += [f"**{_md(title)}**", "", "| option | value | default | meaning |", "|---|---|---|---|"]
        for a in actions:
            names = ", ".join(f"`{s}`" for s in a.option_strings) or f"`{a.dest}`"
            value = _value(a)
            value = f"`{value}`" if value else ""
            helptext = fmt._expand_help(a) if a.help else ""
            out.append(f"| {names} | {value} | {_default(a)} | {_md(helptext)} |")
        out.append("")
    for g in p._mutually_exclusive_groups:
        names = " / ".join(f"`{s}`" for a in g._group_actions for s in a.option_strings[:1])
        out += [f"- {'exactly' if g.required else 'at most'} one of {names}", ""]
    out += [f'??? note "Full output of `lionk {command} --help`"', "",
            "    ```text"]
    out += ["    " + line if line else "" for line in p.format_help().rstrip().splitlines()]
    out += ["    ```", ""]
    return "\n".join(out)


# ---------------------------------------------------------------------------------------------
# claims
# ---------------------------------------------------------------------------------------------
def _first_paragraph(doc: str | None) -> str:
    if not doc:
        return ""
    return " ".join(doc.strip().split("\n\n", 1)[0].split())


def claims_markdown(page: str) -> str:
    """The claims of ``lionk.proofs.registry.CLAIMS`` as a Markdown table.

    Parameters
    ----------
    page : str
        Path of the page the table goes into (relative to docs/), to link each claim's module page.

    Returns
    -------
    str
        Markdown: id, title, time model, broken variants (must fail), module link and summary.
    """
    from lionk.proofs import registry

    depth = page.count("/")
    up = "../" * depth
    rows = ["| id | claim | time | broken variants (verdict must be *fail*) | module |", "|---|---|---|---|---|"]
    for c in registry.CLAIMS:
        mod = c.load()
        broken = ", ".join(f"`{v}`" for v in c.variants if v != "honest") or "—"
        link = f"[`{c.module}`]({up}reference/lionk/proofs/{c.module}.md)"
        rows.append(f"| {c.id} | {_md(c.title)} | {'continuous' if c.continuous else 'discrete'} "
                    f"| {broken} | {link} |")
    rows.append("")
    rows.append("What each module checks (the first paragraph of its docstring):")
    rows.append("")
    for c in registry.CLAIMS:
        rows.append(f"{c.id}. **{_md(c.title)}**: {_md(_first_paragraph(c.load().__doc__))}")
    rows.append("")
    return "\n".join(rows)


# ---------------------------------------------------------------------------------------------
# figures
# ---------------------------------------------------------------------------------------------
FIGURE_DIR = ROOT / "figures"


def figure_files() -> dict[str, Path]:
    """``{"figures/<slug>.png": source path}`` for every registered figure.

    Raises
    ------
    DocsBuildError
        A registered figure has no PNG in ``figures/`` (run ``lionk figures``).
    """
    from lionk.figures import FIGURES

    out = {}
    for spec in FIGURES.values():
        src = FIGURE_DIR / f"{spec.slug}.png"
        if not src.is_file():
            raise DocsBuildError(f"figure {spec.id} has no {src.relative_to(ROOT)}: run `lionk figures`")
        out[f"figures/{spec.slug}.png"] = src
    return out


def figures_markdown(page: str) -> str:
    """The figure gallery: each registered figure with its title as caption.

    Parameters
    ----------
    page : str
        Path of the page the gallery goes into (relative to docs/).

    Returns
    -------
    str
        Markdown.
    """
    from lionk.figures import FIGURES

    up = "../" * page.count("/")
    figure_files()  # fails the build if a PNG is missing
    out = []
    for spec in FIGURES.values():
        out += [f"### Figure {spec.id}: `{spec.slug}`", "",
                f"![{_md(spec.title)}]({up}figures/{spec.slug}.png)", "",
                f"*{_md(spec.title)}.* Regenerate: `lionk figures --only {spec.id}`.", ""]
    return "\n".join(out)
