"""The ``centrifuge`` command: a thin layer that parses arguments and calls the library.

``main(argv)`` returns the exit status: 0 on success, 2 on bad input (one line on
stderr naming the problem and the fix, nothing partial left behind), 1 when a job
finished but incompletely (e.g. a corpus package failed to download), 130 on Ctrl-C.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from centrifuge import __version__
from centrifuge.errors import CentrifugeError

_COMMANDS: dict[str, Callable[[argparse._SubParsersAction], None]] = {}


def command(fn: Callable[[argparse._SubParsersAction], None]):
    """Register a function that adds one subcommand's parser."""
    _COMMANDS[fn.__name__.removeprefix("add_")] = fn
    return fn


@command
def add_corpus(sub) -> None:
    p = sub.add_parser("corpus", help="build or list the real-clip sample corpus")
    csub = p.add_subparsers(dest="corpus_command", required=True, metavar="{build,list}")
    for name, help_ in (("build", "download, verify and index the pinned clips (idempotent)"),
                        ("list", "print the corpus table")):
        q = csub.add_parser(name, help=help_)
        q.add_argument("--root", help="corpus folder (default $CENTRIFUGE_HOME or "
                                      "~/.cache/centrifuge)")
    p.set_defaults(run=_run_corpus)


def _run_corpus(args) -> int:
    from centrifuge.data.corpus import Corpus, build, format_table

    if args.corpus_command == "build":
        report = build(args.root)
        corpus = Corpus.load(args.root)
        print(format_table(corpus))
        if not report.ok:
            failed = ", ".join(report.failed)
            print(f"corpus incomplete: {failed} failed; run `centrifuge corpus build` again "
                  "to retry (the rest is usable)", file=sys.stderr)
            return 1
        return 0
    print(format_table(Corpus.load(args.root)))
    return 0


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="centrifuge",
        description="Separate a video into its layers (The Visual Centrifuge, CVPR 2019).",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for add in _COMMANDS.values():
        add(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = get_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "run", None):
        parser.print_help()
        return 0
    try:
        return int(args.run(args) or 0)
    except CentrifugeError as e:
        print(f"centrifuge: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("centrifuge: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
