"""Check my working on the kept chains (benchmarks/check_chains.jsonl): every chain's `first_wrong_line` and every
step's verdict, as JSON.

    python benchmarks/check_eval.py [--chains FILE] [--json OUT]

`first_wrong_line_right` must be all chains and `wrong_called_equivalent` 0 (a wrong step called right is the
one mistake the checker may never make); `unknown` counts the steps it could not decide.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from seq2latex.solver.check import check_working
from seq2latex.solver.check_eval import score_chains

CHAINS = Path(__file__).with_name("check_chains.jsonl")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--chains", type=Path, default=CHAINS)
    ap.add_argument("--json", type=Path, help="also write the report here")
    args = ap.parse_args()
    chains = [
        json.loads(line) for line in args.chains.read_text(encoding="utf-8").splitlines() if line.strip()
    ]
    start = time.perf_counter()
    report = score_chains(chains, check_working)
    report["seconds"] = round(time.perf_counter() - start, 2)
    text = json.dumps(report, indent=2, ensure_ascii=False)
    if args.json:
        args.json.write_text(text + "\n", encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
