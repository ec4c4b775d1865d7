"""How far a torchrun of N CPU processes lands from one process of the same global batch.

    python benchmarks/ddp_equivalence.py --data EXPORT_DIR [--nproc 2] [--arch test_efficientnet_gn]

Trains the same tiny run with `cli.py train` once plainly and once under torchrun (gloo), then prints the
largest absolute difference in each history.csv column and in any weight. tests/test_distributed.py's
tolerance comes from this measurement.
"""

from __future__ import annotations

import argparse
import csv
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from safetensors.torch import load_file

ROOT = Path(__file__).resolve().parent.parent
COLUMNS = ("train_loss", "valid_loss", "valid_accuracy", "valid_balanced_accuracy", "valid_mae")


def run(launcher: list[str], data: Path, out: Path, arch: str) -> None:
    options = ["--data", str(data), "--out", str(out), "--arch", arch, "--no-pretrained", "--img-size", "32",
               "--epochs", "2", "--batch-size", "16", "--lr", "1e-3", "--workers", "0", "--device", "cpu",
               "--precision", "fp32", "--sampler", "balanced"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    subprocess.run(launcher + [str(ROOT / "cli.py"), "train", *options], check=True, env=env,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--nproc", type=int, default=2)
    parser.add_argument("--arch", default="test_efficientnet_gn")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        single, multi = Path(tmp) / "single", Path(tmp) / "multi"
        run([sys.executable], args.data, single, args.arch)
        run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", str(args.nproc)],
            args.data, multi, args.arch)
        rows = [list(csv.DictReader((d / "history.csv").open())) for d in (single, multi)]
        print(f"{args.arch}, 1 process vs {args.nproc} (torchrun, gloo), global batch 16, 2 epochs")
        for column in COLUMNS:
            diff = max(abs(float(a[column]) - float(b[column])) for a, b in zip(*rows, strict=True))
            print(f"  max |diff| {column:<24} {diff:.3g}   (1 process: {rows[0][-1][column]})")
        a, b = load_file(single / "model.safetensors"), load_file(multi / "model.safetensors")
        print(f"  max |diff| any weight               {max(float((a[k] - b[k]).abs().max()) for k in a):.3g}")


if __name__ == "__main__":
    main()
