#!/usr/bin/env bash
# The project's own `cli.py train` on a CUDA machine: bf16 autocast (tf_efficientnet_lite0, pretrained,
# balanced sampler, soft labels) and fp16 with loss scaling (resnet18), then `cli.py evaluate`.
#
#   bash benchmarks/gpu_cli_train.sh data/demo/export-20y [OUT_DIR]
#
# Needs the project installed (pip install -e .) or on PYTHONPATH with its dependencies. Prints each
# run's epoch table (images/s per epoch: the first epochs include CUDA warm-up) and the test metrics.
set -u
EXPORT=${1:?usage: gpu_cli_train.sh EXPORT_DIR [OUT_DIR]}
OUT_DIR=${2:-runs/gpu-check}
export PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name --format=csv,noheader
python3 -c "import torch, timm; print('torch', torch.__version__, 'timm', timm.__version__)"
run() {
  name=$1; shift
  echo "=== $name: cli.py train $*"
  python3 cli.py train --data "$EXPORT" --device cuda --workers 8 --out "$OUT_DIR/$name" "$@" 2>&1 \
    | tr '\r' '\n' | grep -v '%|' | grep -v '^\s*$'
}
run lite0_bf16 --arch tf_efficientnet_lite0 --img-size 224 --epochs 4 --lr 1e-3 --sampler balanced --loss soft
run r18_fp16 --arch resnet18 --no-pretrained --img-size 224 --epochs 3 --lr 1e-3 --precision fp16 --batch-size 64
python3 cli.py evaluate --model "$OUT_DIR/lite0_bf16" --data "$EXPORT" --split test --format json 2>/dev/null \
  | python3 -c "import json,sys; d=json.load(sys.stdin); print('lite0_bf16 test', {k: round(d[k], 3) for k in ('accuracy','balanced_accuracy','mae')})"
