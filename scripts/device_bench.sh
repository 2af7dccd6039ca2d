#!/usr/bin/env bash
# GPU speed figures for issue #7 in one device call: `sphereapp bench` at 360p, 720p and 1080p on CUDA, with the
# default settings and with every frame detected and embedded.
#
# The tree that travels holds at most 64 MiB, and PyAV's wheel (36 MB) does not fit beside the 45 MB shipped
# weights. So the call runs with the weights file moved out of the tree, and the bench embeds with a
# SphereFace-20 of random weights, saved and labelled as such: speed does not depend on the weights (detection,
# alignment, batching and embedding reuse never look at them). Here, before the call:
#   mkdir -p .whl .data/device/site .data/device/video
#   cp /opt/pypi/files/av-18.1.0-cp311-abi3-manylinux_2_28_x86_64.whl .whl/
#   cp -r .venv/lib/python3.11/site-packages/facenet_pytorch .data/device/site/   # the naive loop's detector
#   cp ../shared/data/video/hikers_walking_640x480.mp4 .data/device/video/
#   mv sphereapp/assets/sphereface20.safetensors /tmp/    # and back after the call (or: git checkout sphereapp/assets/)
# Device call: bash scripts/device_bench.sh   (carry .whl and .data/device; timeout_s 600)
set -euo pipefail
PYTHON=${PYTHON:-python3}
OUT=${OUT:?set by the device tool}
CLIP=${CLIP:-.data/device/video/hikers_walking_640x480.mp4}
FRAMES=${FRAMES:-300}
DEVICE=${DEVICE:-cuda}
if compgen -G ".whl/*.whl" >/dev/null; then
    $PYTHON -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site .whl/*.whl
fi
export PYTHONPATH="$PWD:$PWD/.data/device/site:/tmp/site" PYTHONUNBUFFERED=1
MODEL=$(mktemp -d)/sphereface20_random_weights.safetensors
$PYTHON - "$MODEL" <<'EOF'
import sys
import torch
from sphereapp.core.vision.modelfile import ModelInfo, save_embedder
from sphereapp.core.vision.models import build_model

torch.manual_seed(0)
save_embedder(sys.argv[1], build_model("sphereface20", embedding_size=512),
              ModelInfo("sphereface20", 512, threshold=0.5, training_data="none: random weights, for speed only"))
EOF
{ nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv || true; } | tee "$OUT/gpu.txt"
bench() { $PYTHON -m sphereapp bench "$CLIP" --model "$MODEL" --device "$DEVICE" --frames "$FRAMES" "$@"; }
bench --heights 360 720 1080 --json "$OUT/bench_default.json" 2>&1 | tee "$OUT/bench_default.log"
bench --heights 360 720 1080 --detect-every 1 --embed-every 1 --scan-every 1 --json "$OUT/bench_every_frame.json" 2>&1 \
    | tee "$OUT/bench_every_frame.log"
