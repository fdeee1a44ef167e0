"""MkDocs hooks of the lionk docs (see mkdocs.yml): stage the API tree, fill the generated parts.

A page asks for generated content with an HTML comment on a line of its own:

``<!-- lionk:options COMMAND -->``
    the option reference of ``lionk COMMAND`` (from ``lionk.cli.build_parser()``);
``<!-- lionk:claims -->``
    the claim list (from ``lionk.proofs.registry``);
``<!-- lionk:figures -->``
    the figure gallery (from ``lionk.figures.FIGURES``; the PNGs are copied by gen_pages.py).

An unknown ``lionk:`` directive stops the build.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from mkdocs.exceptions import PluginError
from mkdocs.plugins import event_priority

sys.path.insert(0, str(Path(__file__).resolve().parent))
import lionk_docs  # noqa: E402

_DIRECTIVE = re.compile(r"^<!--\s*lionk:(\w+)\s*([\w-]*)\s*-->\s*$", re.MULTILINE)


@event_priority(100)  # before mkdocstrings reads its search paths
def on_config(config):
    try:
        lionk_docs.stage_api_tree()
    except lionk_docs.DocsBuildError as exc:
        raise PluginError(str(exc)) from None
    return config


def on_page_markdown(markdown, page, config, files):
    src = page.file.src_uri

    def fill(match):
        kind, arg = match.group(1), match.group(2)
        try:
            if kind == "options" and arg:
                return lionk_docs.options_markdown(arg)
            if kind == "claims" and not arg:
                return lionk_docs.claims_markdown(src)
            if kind == "figures" and not arg:
                return lionk_docs.figures_markdown(src)
        except lionk_docs.DocsBuildError as exc:
            raise PluginError(f"{src}: {exc}") from None
        raise PluginError(f"{src}: unknown directive {match.group(0)!r}")

    return _DIRECTIVE.sub(fill, markdown)


# Sphinx roles in docstrings (:class:`~lionk.x.Y`, :func:`f`) would show as literal text: turn them
# into optional mkdocs-autorefs links (a name that resolves becomes a link, any other stays code).
_ROLE = re.compile(r":(?:class|func|meth|mod|data|attr|exc|obj|const):<code>(~?)([\w.]+)(\(\))?</code>")


def on_page_content(html, page, config, files):
    src = page.file.src_uri
    module = ""
    if src.startswith("reference/"):
        module = src.removeprefix("reference/").removesuffix(".md").removesuffix("/index").replace("/", ".")

    def link(match):
        tilde, name, call = match.group(1), match.group(2), match.group(3) or ""
        shown = name.rsplit(".", 1)[-1] if tilde else name
        ident = name if "." in name or not module else f"{module}.{name}"
        return f'<autoref identifier="{ident}" optional><code>{shown}{call}</code></autoref>'

    return _ROLE.sub(link, html)
