"""`make bench`: run every benchmark under bench/ and collect the JSON line each one ends with."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REQUIRED = {"bench", "metric", "value", "unit", "anchor", "anchor_value", "ratio", "target"}


def main(names: list[str]) -> int:
    scripts = sorted(p for p in HERE.glob("*.py") if not p.name.startswith("_") and p.stem != "common")
    if names:
        scripts = [p for p in scripts if p.stem in names]
    if not scripts:
        print("no benchmarks selected", file=sys.stderr)
        return 1
    results, failed = [], 0
    for script in scripts:
        started = time.monotonic()
        print(f"== {script.stem}", flush=True)
        proc = subprocess.run([sys.executable, "-m", f"bench.{script.stem}"], cwd=HERE.parent, check=False)
        out_file = HERE.parent / "var" / "bench" / f"{script.stem}.json"
        if proc.returncode != 0 or not out_file.exists():
            print(f"!! {script.stem} failed (exit {proc.returncode})", flush=True)
            failed += 1
            continue
        result = json.loads(out_file.read_text())
        missing = REQUIRED - result.keys()
        if missing:
            print(f"!! {script.stem} result lacks {sorted(missing)}", flush=True)
            failed += 1
        result["wall_s"] = round(time.monotonic() - started, 1)
        results.append(result)
    summary = HERE.parent / "var" / "bench" / "summary.json"
    summary.parent.mkdir(parents=True, exist_ok=True)
    summary.write_text(json.dumps(results, indent=2))
    for result in results:
        print(
            f"{result['bench']:<22} {result['metric']:<28} {result['value']:>10} {result['unit']:<10} "
            f"anchor {result['anchor']}={result['anchor_value']} ratio {result['ratio']} "
            f"target {result['target']}"
        )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
