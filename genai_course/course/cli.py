"""The ``genai-course`` command: ``doctor``, ``release``, ``lab``, ``retrain``, ``serve``, and
the instructor's ``grade``, ``export`` and ``feedback``."""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
import time
from pathlib import Path

from genai_course import __version__


def _doctor(args: argparse.Namespace) -> int:
    from genai_course.course.doctor import main

    return main()


def _release(args: argparse.Namespace) -> int:
    from genai_course.course.release import ReleaseError, find_course_root, release

    try:
        root = find_course_root(args.root)
        report = release(root, args.chapters or None, check=args.check, force=args.force)
    except ReleaseError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    found = [
        *(("differs from the release", "wrote", p) for p in report.changed),
        *(("not in the release", "moved", p) for p in report.removed),
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
        if path in report.moved:
            print(f"moved {path.relative_to(root)} (not in the release) to "
                  f"{report.moved[path].relative_to(root)}")
        else:
            print(f"{done} {path.relative_to(root)}")
    if report.clean:
        print("chapters/ was already up to date.")
    return 0


def _lab(args: argparse.Namespace, extra: list[str]) -> int:
    from genai_course.course import lab
    from genai_course.course.release import ReleaseError, find_course_root

    try:
        root = find_course_root(args.root)
    except ReleaseError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.instructor:
        workdir, config = root, None
        print(f"Instructor mode: JupyterLab on {root} with every nbgrader extension.")
    else:
        try:
            work = lab.prepare_workspace(root, args.workspace, args.update)
        except lab.LabError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        for old, aside in work.moved:
            print(f"kept your copy of {old.name} as {aside}")
        if work.copied:
            print(f"copied {', '.join(work.copied)} into {work.path}")
        for chapter in work.changed:
            print(f"{chapter} has a new version in the course; your copy is unchanged "
                  f"(genai-course lab --update {chapter} keeps yours aside and copies it)")
        workdir = work.path
        config = lab.lab_config_dir(work.path / ".lab-config", lab.default_app_settings())
    cmd = lab.command(workdir, config, extra)
    print("Starting JupyterLab:", " ".join(cmd), flush=True)
    # from the course root, where the Validate button finds nbgrader_config.py
    return run_child(cmd, env=lab.environment(config), cwd=root)


def run_child(cmd: list[str], env: dict[str, str] | None, cwd: Path | None) -> int:
    """Run ``cmd`` until it exits and return its exit code, passing SIGTERM and SIGHUP on to
    it (a service manager or ``kill`` stopping ``genai-course lab`` stops JupyterLab and its
    kernels too, instead of leaving them running); a child ended by signal N gives 128 + N,
    as in a shell. Ctrl-C reaches both and returns 0."""
    child = subprocess.Popen(cmd, env=env, cwd=cwd)

    def forward(signum: int, frame: object) -> None:
        child.send_signal(signum)

    forwarded = [s for s in (getattr(signal, "SIGTERM", None), getattr(signal, "SIGHUP", None))
                 if s is not None]
    previous = {s: signal.signal(s, forward) for s in forwarded}
    try:
        code = child.wait()
        return 128 - code if code < 0 else code
    except KeyboardInterrupt:
        child.wait()
        return 0
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def _retrain(args: argparse.Namespace) -> int:
    from genai_course.pretrained import PretrainedError, get, retrain, sha256_of

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


UNISOLATED_WARNING = (
    "WARNING: graded WITHOUT operating-system isolation (--no-isolation): student code ran "
    "with your rights and could read the solutions, other submissions and the gradebook, "
    "change files and leave processes behind. Do not trust these grades for a class; see "
    "docs/instructors.md.")


def _serve(args: argparse.Namespace) -> int:
    from genai_course.pretrained import PretrainedError
    from genai_course.serving.server import serve

    try:
        serve(args.model, host=args.host, port=args.port)
    except (PretrainedError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        pass
    return 0


def _grade(args: argparse.Namespace) -> int:
    from genai_course.course.classroom import GradingError, grade

    bar = None
    on_terminal = sys.stdout.isatty()

    def report(result, done: int, total: int) -> None:
        nonlocal bar
        line = f"[{done:>3}/{total}] {result.line()}"
        if not on_terminal:  # a log file or a pipe: plain status lines, no progress bar
            print(line, flush=True)
            return
        if bar is None:
            from tqdm import tqdm

            bar = tqdm(total=total, desc=f"grading {args.chapter}", unit="submission")
        bar.update(1)
        bar.write(line)

    isolated = not args.no_isolation
    if not isolated:
        print(UNISOLATED_WARNING, file=sys.stderr)
    start = time.perf_counter()
    try:
        results = grade(args.root, args.chapter, jobs=args.jobs, force=args.force,
                        only=args.student or None, timeout=args.timeout, report=report,
                        isolated=isolated)
    except GradingError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        if bar is not None:
            bar.close()
    counts: dict[str, int] = {}
    for r in results:
        counts[r.status] = counts.get(r.status, 0) + 1
    scored = [r.score / r.max_score for r in results if r.score is not None and r.max_score]
    mean = f", mean score {100 * sum(scored) / len(scored):.0f}%" if scored else ""
    print(f"{len(results)} submissions in {time.perf_counter() - start:.0f} s: "
          + ", ".join(f"{n} {status}" for status, n in sorted(counts.items())) + mean)
    waiting = sum(r.awaiting for r in results)
    if waiting:
        print(f"{waiting:g} points of written answers await a person "
              f"({sum(1 for r in results if r.awaiting)} submissions; mark them in formgrader)")
    if not isolated:
        print(UNISOLATED_WARNING)
    return 1 if counts.get("failed") else 0


def _export(args: argparse.Namespace) -> int:
    from genai_course.course.classroom import crosscheck, export

    n, waiting = export(args.root, args.out, args.json, args.chapters or None)
    print(f"wrote {n} students to {args.out}" + (f" and {args.json}" if args.json else ""))
    if waiting:
        print(f"{waiting} written answers await a person: their exercises are left empty "
              "(mark them in formgrader, then export again)")
    differences = crosscheck(args.root, args.chapters or None)
    for line in differences:
        print(f"WARNING: {line}", file=sys.stderr)
    if differences:
        print(f"WARNING: {len(differences)} scores in the gradebook differ from the autograded "
              "notebooks; regrade those students with genai-course grade --force",
              file=sys.stderr)
    return 1 if differences else 0


def _feedback(args: argparse.Namespace) -> int:
    from genai_course.course.classroom import GradingError, feedback

    try:
        files = feedback(args.root, args.chapter)
    except GradingError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {len(files)} feedback files (hidden tests summarised, checked for leaks)")
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

    lab = sub.add_parser(
        "lab", help="start JupyterLab on your copy of the chapters (extra args go to jupyter)")
    lab.add_argument("--root", type=Path, default=None, help="course root (default: search up)")
    lab.add_argument("--workspace", type=Path, default=None,
                     help="your copies of the chapters (default: my-work/ in the course)")
    lab.add_argument("--update", action="append", default=[], metavar="CHAPTER",
                     help="take the course's new version of a chapter; yours is kept aside")
    lab.add_argument("--instructor", action="store_true",
                     help="the course root with nbgrader's instructor extensions (formgrader)")

    ret = sub.add_parser("retrain", help="retrain a shipped checkpoint (genai_course.pretrained)")
    ret.add_argument("name", help="checkpoint name, e.g. tinygpt-tinylang")
    ret.add_argument("--out", type=Path, default=None, help="folder to write (default: package)")
    ret.add_argument("--seed", type=int, default=0, help="training seed (default: 0)")
    ret.add_argument("--force", action="store_true", help="replace the shipped file")

    srv = sub.add_parser("serve", help="serve TinyChat with the OpenAI chat-completions API")
    srv.add_argument("--host", default="127.0.0.1", help="address (default: loopback only)")
    srv.add_argument("--port", type=int, default=8000, help="port (default: 8000)")
    srv.add_argument("--model", action="append", default=None,
                     help="shipped chat model to serve (repeatable; default: tinychat)")

    gr = sub.add_parser("grade", help="autograde every submission of a chapter, in parallel")
    gr.add_argument("chapter", help="chapter folder, e.g. 01_history")
    gr.add_argument("--jobs", "-j", type=int, default=2, help="submissions at a time (2)")
    gr.add_argument("--force", action="store_true", help="regrade submissions already graded")
    gr.add_argument("--student", action="append", help="grade only this student (repeatable)")
    gr.add_argument("--timeout", type=float, default=600.0,
                    help="seconds one submission may take in all (600)")
    gr.add_argument("--no-isolation", action="store_true",
                    help="grade even where student code cannot be isolated (UNSAFE)")
    gr.add_argument("--root", type=Path, default=None, help="course root (default: search up)")

    ex = sub.add_parser("export", help="grades per student and exercise, as CSV (and JSON)")
    ex.add_argument("chapters", nargs="*", help="chapters to include (default: all graded)")
    ex.add_argument("--out", type=Path, default=Path("exercise_grades.csv"),
                    help="CSV file (exercise_grades.csv; nbgrader export writes grades.csv)")
    ex.add_argument("--json", type=Path, default=None, help="also write this JSON file")
    ex.add_argument("--root", type=Path, default=None, help="course root (default: search up)")

    fb = sub.add_parser("feedback", help="HTML feedback per student, hidden tests summarised")
    fb.add_argument("chapter", help="chapter folder, e.g. 01_history")
    fb.add_argument("--root", type=Path, default=None, help="course root (default: search up)")
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
    if args.command == "serve":
        args.model = args.model or ["tinychat"]
        return _serve(args)
    if args.command in ("grade", "export", "feedback"):
        return {"grade": _grade, "export": _export, "feedback": _feedback}[args.command](args)
    return _lab(args, extra)


if __name__ == "__main__":
    sys.exit(main())
