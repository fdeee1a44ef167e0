"""``lionk figures``: draw the pictures of the paper (PNG and PDF) into a directory."""

from __future__ import annotations



def register(sub) -> None:
    # matplotlib and the figure data are imported only when the command runs (fast `lionk --help`)
    p = sub.add_parser(
        "figures", help="draw phase portraits and the pictures of the paper",
        description="Compute and draw the figures (deterministic: the same inputs give byte-identical "
                    "PNG files). `lionk figures --list` lists the ids. Each file is written atomically.")
    p.add_argument("--out", default="figures", metavar="DIR", help="output directory (default: figures)")
    p.add_argument("--only", metavar="ID,...",
                   help="comma-separated figure ids or names (e.g. 1,4 or fig8_sliding; 2 means 2a and 2b)")
    p.add_argument("--format", default="png,pdf", metavar="FMT,...", help="png, pdf or both (default png,pdf)")
    p.add_argument("--small", action="store_true", help="quick low-resolution data (what the tests use)")
    p.add_argument("--list", action="store_true", help="list the figures and exit")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args) -> int:
    from .. import figures as figs

    specs = figs.resolve(args.only)  # bad ids fail here, before any directory or file is touched
    if args.list:
        for s in specs:
            print(f"{s.id:>3}  {s.slug:<32} {s.title}")
        return 0
    formats = figs.parse_formats(args.format)
    written = figs.render(specs, args.out, small=args.small, formats=formats,
                          progress=False if args.no_progress else None)
    for w in written:
        print(f"{w.path}  {w.bytes / 1024:.0f} KB")
    return 0
