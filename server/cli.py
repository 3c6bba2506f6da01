"""``grover`` command line: ``grover serve [--flag value ...]``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import uvloop

from server import config, gcwatch, logs
from server.app import serve_forever


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="grover", description="Grover realtime backend")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run a Grover node")
    config.add_arguments(serve)
    args = parser.parse_args(sys.argv[1:] if argv is None else list(argv))
    try:
        settings = config.load(args)
    except ValueError as exc:
        parser.error(str(exc))
    logs.configure(settings.log_level)
    gcwatch.install()
    uvloop.run(serve_forever(settings))
    return 0


if __name__ == "__main__":
    sys.exit(main())
