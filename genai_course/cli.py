"""The ``genai-course`` command: ``doctor``, ``release``, ``lab`` and ``retrain``."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from . import __version__


def _doctor(args: argparse.Namespace) -> int:
    from .doctor import main

    return main()


def _release(args: argparse.Namespace) -> int:
    from .release import ReleaseError, find_course_root, release

    try:
        root = find_course_root(args.root)
        report = release(root, args.chapters or None, check=args.check, force=args.force)
    except ReleaseError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    found = [
        *(("differs from the release", "wrote", p) for p in report.changed),
        *(("not in the release", "removed", p) for p in report.removed),
        *(("solution notebook has outputs", "stripped outputs from", p)
          for p in report.unnormalized_sources),
    ]
    if args.check:
        if report.clean:
            print("chapters/ is up to date with solutions/.")
            return 0
        print("chapters/ is out of date with solutions/ (run: genai-course release):")
        for why, _, path in found:
            print(f"  {path.relative_to(root)}: {why}")
        return 1
    for _, done, path in found:
        print(f"{done} {path.relative_to(root)}")
    if report.clean:
        print("chapters/ was already up to date.")
    return 0


def _lab(args: argparse.Namespace, extra: list[str]) -> int:
    from .release import ReleaseError, find_course_root

    try:
        root = find_course_root(args.root)
    except ReleaseError:
        root = Path.cwd()
    start = "chapters" if (root / "chapters").is_dir() else ""
    cmd = [
        sys.executable,
        "-m",
        "jupyterlab",
        f"--ServerApp.root_dir={root}",
        f"--LabApp.default_url=/lab/tree/{start}",
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")
    cmd += extra
    print("Starting JupyterLab:", " ".join(cmd))
    try:
        return subprocess.call(cmd)
    except KeyboardInterrupt:
        return 0


def _retrain(args: argparse.Namespace) -> int:
    from .pretrained import PretrainedError, get, retrain, sha256_of

    try:
        entry = get(args.name)
    except PretrainedError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.out is None and entry.path.exists() and not args.force:
        print(
            f"error: {entry.path} exists; pass --out DIR to write elsewhere, "
            "or --force to replace the shipped file",
            file=sys.stderr,
        )
        return 2
    path = retrain(args.name, args.out, seed=args.seed)
    print(f"wrote {path}\nsha256 {sha256_of(path)}")
    print("Paste this sha256 into genai_course/pretrained/registry.py to ship the new file.")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="genai-course", description="Tools for the generative AI course."
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    sub.add_parser("doctor", help="check that this machine can run the course")

    rel = sub.add_parser(
        "release", help="regenerate chapters/ from solutions/ (nbgrader generate_assignment)"
    )
    rel.add_argument("chapters", nargs="*", help="chapter folders, e.g. 01_history (default: all)")
    rel.add_argument(
        "--check", action="store_true", help="write nothing; exit 1 if chapters/ is out of date"
    )
    rel.add_argument(
        "--force", action="store_true", help="overwrite chapter notebooks that hold answers"
    )
    rel.add_argument("--root", type=Path, default=None, help="course root (default: search up)")

    lab = sub.add_parser("lab", help="start JupyterLab on the course (extra args go to jupyter)")
    lab.add_argument("--root", type=Path, default=None, help="course root (default: search up)")

    ret = sub.add_parser("retrain", help="retrain a shipped checkpoint (genai_course.pretrained)")
    ret.add_argument("name", help="checkpoint name, e.g. tinygpt-tinylang")
    ret.add_argument("--out", type=Path, default=None, help="folder to write (default: package)")
    ret.add_argument("--seed", type=int, default=0, help="training seed (default: 0)")
    ret.add_argument("--force", action="store_true", help="replace the shipped file")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra and args.command != "lab":
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    if args.command == "doctor":
        return _doctor(args)
    if args.command == "release":
        return _release(args)
    if args.command == "retrain":
        return _retrain(args)
    return _lab(args, extra)


if __name__ == "__main__":
    sys.exit(main())
