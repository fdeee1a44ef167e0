"""Sub-commands of ``lionk`` (one module each; see :data:`lionk.cli.COMMANDS`)."""
