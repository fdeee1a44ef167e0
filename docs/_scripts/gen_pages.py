"""mkdocs-gen-files script: the API reference pages and the figure files, generated at build time.

* one page per public module of the installed package (``lionk_docs.public_modules``), each a
  single mkdocstrings directive, and ``reference/SUMMARY.md`` (the navigation, read by
  mkdocs-literate-nav): a module added, split or renamed appears without editing the docs;
* the PNGs of ``figures/`` named by ``lionk.figures.FIGURES``, copied into the site (not into docs/).
"""

from __future__ import annotations

import sys
from pathlib import Path

import mkdocs_gen_files

sys.path.insert(0, str(Path(__file__).resolve().parent))
import lionk_docs  # noqa: E402

nav = mkdocs_gen_files.Nav()
for mod in lionk_docs.public_modules(lionk_docs.stage_api_tree()):
    parts = tuple(mod.name.split("."))
    nav[parts] = mod.page.removeprefix("reference/")
    with mkdocs_gen_files.open(mod.page, "w") as fh:
        fh.write(f"::: {mod.name}\n")
    mkdocs_gen_files.set_edit_path(mod.page, None)

with mkdocs_gen_files.open("reference/SUMMARY.md", "w") as fh:
    fh.writelines(nav.build_literate_nav())

for dest, src in lionk_docs.figure_files().items():
    with mkdocs_gen_files.open(dest, "wb") as fh:
        fh.write(src.read_bytes())
