"""`python -m rag_cited.eval …`: the same arguments as `rag eval`."""

import argparse
import sys

from rag import Settings
from rag_cited.eval.cli import add_arguments, run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rag_cited.eval", description="Evaluate the assistant on a question suite.")
    parser.add_argument("--data-dir", help="index and cache folder (default: RAG_DATA_DIR or a per-user data dir)")
    add_arguments(parser)
    args = parser.parse_args(argv)
    return run(args, Settings(**({"data_dir": args.data_dir} if args.data_dir else {})))


if __name__ == "__main__":
    sys.exit(main())
