"""The command line: ``python -m llu_core COMMAND``.

    python -m llu_core fetch-data [--root DIR]

Each command is a thin layer over the library (:mod:`llu_core.data.fetch`): it parses its
arguments, calls one function and prints the result. Errors (data that cannot be fetched) end
the command with one message on stderr and exit status 1, without a traceback.
"""

import argparse
import sys
import warnings


def _fetch_data(arguments):
    from .data.fetch import fetch_data

    print(fetch_data(root=arguments.root).summary())
    return 0


def _parser():
    parser = argparse.ArgumentParser(prog="python -m llu_core", description=__doc__.split("\n\n")[0].split(": ")[-1])
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    fetch = commands.add_parser("fetch-data", help="fetch and verify the book's offline data",
                                description="Download the offline data from its pinned public sources (or "
                                            "$LLU_DATA_MIRROR), rebuild and verify every file; do nothing when it "
                                            "is present and verified.")
    fetch.add_argument("--root", default=None, help="the data root (default: $LLU_DATA_ROOT, else shared/data beside "
                                                    "a checkout, else ~/.cache/llu_book/data)")
    fetch.set_defaults(run=_fetch_data)

    return parser


def _show_warning(message, category, filename, lineno, file=None, line=None):
    """Warnings (an image that cannot be read, a cache that cannot be written) as one line on stderr."""
    print(f"warning: {message}", file=sys.stderr)


def main(argv=None):
    """Run the command line; returns the exit status."""
    arguments = _parser().parse_args(argv)
    shown = warnings.showwarning
    warnings.showwarning = _show_warning
    try:
        return arguments.run(arguments)
    except (FileNotFoundError, ValueError, RuntimeError) as error:  # DataUnavailableError is a RuntimeError
        print(f"error: {error}", file=sys.stderr)
        return 1
    finally:
        warnings.showwarning = shown


if __name__ == "__main__":
    sys.exit(main())
