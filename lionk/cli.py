"""The ``lionk`` command line.

Each sub-command lives in :mod:`lionk.commands` as a module with ``register(subparsers)`` (adds
its parser and sets ``func``) and a ``run(args) -> int`` function. Exit codes: 0 success, 1 a check
failed (a verdict, not an error), 2 usage error or bad input (one line on stderr, no traceback),
3 internal error (a bug: please report it), 4 ``lionk check`` inconclusive (a core check tested
nothing), 130 interrupted. Set ``LIONK_DEBUG=1`` to see the traceback of an unexpected internal error.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import warnings

import numpy as np

from lionk.errors import LionKError

#: Sub-command modules, in the order ``lionk --help`` lists them.
COMMANDS = ["simulate", "derive", "discover", "verify", "reproduce", "figures", "check", "phase", "sweep", "audit"]


class _Parser(argparse.ArgumentParser):
    """ArgumentParser whose errors are one line (``lionk: error: ...``) and exit 2."""

    def error(self, message):  # noqa: D401
        where = self.prog.split()[-1]
        raise LionKError(message if where == "lionk" else f"{where}: {message}")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="lionk", description="Prove, measure and draw why Lion-K optimizers work.")
    from . import __version__

    parser.add_argument("--version", action="version", version=f"lionk {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in COMMANDS:
        try:
            mod = importlib.import_module(f"lionk.commands.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"lionk.commands.{name}":
                continue  # command not built yet
            raise
        mod.register(sub)
    return parser


def _one_line_warning(message, category, filename, lineno, file=None, line=None):
    text = str(message).strip().splitlines()[0] if str(message).strip() else category.__name__
    print(f"lionk: warning: {text}", file=sys.stderr)


def main(argv=None) -> int:
    """Entry point of the ``lionk`` console script; returns the exit code."""
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            # numpy's floating-point warnings are not for the user: every simulation checks its
            # states and gradients for NaN/inf and says where they appeared (NonFiniteError).
            # lionk's own warnings (LionKWarning) are printed as one line each.
            warnings.simplefilter("ignore", RuntimeWarning)
            warnings.showwarning = _one_line_warning
            parser = build_parser()
            args = parser.parse_args(argv)
            if not getattr(args, "func", None):
                parser.print_help()
                return 2
            return int(args.func(args) or 0)
    except LionKError as exc:
        print(f"lionk: error: {exc}", file=sys.stderr)
        return 2
    except MemoryError:
        print("lionk: error: not enough memory for this request (lower the dimension, batch or number of steps)",
              file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("lionk: interrupted; no partial output was kept", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `lionk ... | head`
        return 0
    except Exception as exc:  # noqa: BLE001 - the CLI promises no tracebacks
        if os.environ.get("LIONK_DEBUG"):
            raise
        msg = str(exc).splitlines()[0] if str(exc) else ""
        print(f"lionk: internal error: {type(exc).__name__}: {msg} (set LIONK_DEBUG=1 for the traceback)",
              file=sys.stderr)
        return 3


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
