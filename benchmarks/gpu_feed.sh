#!/usr/bin/env bash
# Does the loader keep a GPU fed? resnet18 at 224 px on one GPU: `cli.py train` images/s beside the
# loader's own (benchmarks/gpu_feed.py). Self-contained for a bare GPU machine that has torch, timm and
# torchvision but may lack this project's pure-Python dependencies: those come as wheels.
#
#   bash benchmarks/gpu_feed.sh prepare    # here, with the package registry: wheels into benchmarks/wheels/
#   bash benchmarks/gpu_feed.sh            # on the GPU machine (carry benchmarks/wheels); under 5 minutes
#
# Installs a carried wheel only for a module that does not import (never touches torch). Prints the JSON
# report and a one-line summary; with $OUT set, also writes $OUT/gpu_feed.json and $OUT/gpu_feed.log.
set -euo pipefail
cd "$(dirname "$0")/.."
WHEELS=benchmarks/wheels
PURE=(sqlalchemy click tqdm)  # pure-Python wheels (py3-none-any): any Python 3.10+ on the machine takes them
if [ "${1:-}" = prepare ]; then
    mkdir -p "$WHEELS"
    python3 -m pip download --quiet --no-deps --only-binary :all: --platform any --implementation py \
        --python-version 3.10 -d "$WHEELS" "sqlalchemy>=2.0,<3" "click>=8.1" "tqdm>=4.66"
    ls "$WHEELS"
    exit 0
fi
export PYTHONUNBUFFERED=1
log=${OUT:+$OUT/gpu_feed.log}
exec > >(tee ${log:+"$log"}) 2>&1
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || true
for module in "${PURE[@]}"; do
    if ! python3 -c "import $module" 2>/dev/null; then
        wheel=$(ls "$WHEELS"/"$module"-*.whl 2>/dev/null | head -1 || true)
        if [ -z "$wheel" ]; then
            echo "Missing Python module '$module' and no wheel for it in $WHEELS: run 'bash benchmarks/gpu_feed.sh prepare' and carry $WHEELS." >&2
            exit 1
        fi
        python3 -m pip install --quiet --no-deps --no-index "$wheel"
    fi
done
python3 -c "import torch, torchvision, timm; print('torch', torch.__version__, 'torchvision', torchvision.__version__, 'timm', timm.__version__, 'cuda', torch.cuda.is_available())"
timeout 280 python3 benchmarks/gpu_feed.py --device cuda --arch resnet18 --img-size 224 --batch 256 \
    --images "${IMAGES:-16384}" --epochs 3 --precision bf16 "$@"
