"""Does a retrained TinyChat reproduce the shipped one? A measurement, not a test.

    genai-course retrain tinychat --out OUT        # about half an hour of one CPU core
    python benchmarks/reproduce_tinychat.py OUT/tinychat.pt [--cpu-seconds S --wall-seconds W]
                                                   [--commit C] [--write]

Prints, for the retrained payload against the shipped checkpoint: whether the weights are
identical, how many pretraining losses agree exactly, the seconds of each stage, and every
report-card row side by side with its two-proportion z statistic
(:func:`genai_course.pretrained.tinychat.compare_report_cards`). ``--write`` stores the
comparison in :data:`~genai_course.pretrained.tinychat.REPRODUCTION_PATH`, which the model
card reports; pass the retrain's CPU and wall seconds as measured around it (e.g. by
``/usr/bin/time``), since the payload records only wall seconds per stage.
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform
import subprocess
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from genai_course.pretrained import load_payload  # noqa: E402
from genai_course.pretrained import tinychat as recipe  # noqa: E402


def identical_prefix(a: list[float], b: list[float]) -> int:
    """How many leading values of two loss curves are exactly equal."""
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("payload", type=Path, help="a retrained tinychat.pt")
    parser.add_argument("--cpu-seconds", type=float, help="CPU seconds of the retrain")
    parser.add_argument("--wall-seconds", type=float, help="wall seconds of the retrain")
    parser.add_argument("--commit", help="the commit the retrain ran (default: HEAD)")
    parser.add_argument("--write", action="store_true", help="store the comparison")
    args = parser.parse_args()
    new = torch.load(args.payload, map_location="cpu", weights_only=True)
    old = load_payload("tinychat")
    same = all(torch.equal(new["state_dict"][k], old["state_dict"][k])
               for k in old["state_dict"])
    steps = identical_prefix(new["extra"]["pretrain_loss"], old["extra"]["pretrain_loss"])
    print(f"weights identical: {same}; pretraining losses identical for the first {steps} "
          f"of {len(old['extra']['pretrain_loss'])} steps")
    print(f"stage seconds (wall): retrained {new['extra']['stage_seconds']}, "
          f"shipped {old['extra']['stage_seconds']}")
    rows = recipe.compare_report_cards(new["metrics"]["report_card"],
                                       old["metrics"]["report_card"])
    print(f"{'task':40s} {'retrained':>9s} {'shipped':>8s} {'z':>6s}")
    for r in rows:
        flag = "" if r["within_noise"] else "  <- outside noise"
        print(f"{r['task']:40s} {r['new']:9.0%} {r['old']:8.0%} {r['z']:+6.1f}{flag}")
    within = sum(r["within_noise"] for r in rows)
    print(f"{within} of {len(rows)} rows within noise (|z| < 3)")
    if args.write:
        if args.cpu_seconds is None or args.wall_seconds is None:
            parser.error("--write needs --cpu-seconds and --wall-seconds")
        commit = subprocess.run(["git", "rev-parse", "--short", args.commit or "HEAD"],
                                cwd=ROOT, capture_output=True, text=True).stdout.strip()
        record = {"date": datetime.date.today().isoformat(), "commit": commit,
                  "machine": f"{platform.machine()}, torch {torch.__version__}",
                  "cpu_seconds": args.cpu_seconds, "wall_seconds": args.wall_seconds,
                  "weights_identical": same, "identical_pretraining_steps": steps,
                  "stage_seconds": new["extra"]["stage_seconds"], "rows": rows}
        recipe.REPRODUCTION_PATH.write_text(json.dumps(record, indent=1) + "\n",
                                            encoding="utf-8")
        print(f"wrote {recipe.REPRODUCTION_PATH.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
