#!/usr/bin/env bash
# How fast consistent teaching (the shipped model's last stage, issue #21) runs on the GPU machine: the student on
# the GPU, the MobileFaceNet teacher (ncnn) on the machine's CPU cores, one device call; metrics come back, no model.
#
# A call carries 64 MiB with the tree, so the shared data cannot travel whole: this runs on the 472 training people
# (7,094 wide crops, 18 MiB as WebP) from random weights; it measures speed, not accuracy. Here, once:
#   sphereapp-train prepare ../shared/data/train .data/wide/train --aligned-glob 'glint_*' --wide
#   python scripts/device_pack.py pack .data/wide/train .data/device/wide_train
#   mkdir -p .data/device/teacher && cp ../shared/teachers/mobilefacenet_ms1m/mobilefacenet.* .data/device/teacher/
#   python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#       --platform manylinux_2_28_x86_64 -d .whl ncnn==1.0.20261020
#   mv sphereapp/assets/sphereface20.safetensors /tmp/    # and back after the call: the tree must stay small
# Device call: bash scripts/device_distill_speed.sh   (carry .whl and .data/device; timeout_s 480)
set -euo pipefail
PYTHON=${PYTHON:-python3}
OUT=${OUT:?set by the device tool}
ITERATIONS=${ITERATIONS:-150}
$PYTHON -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site .whl/ncnn-*.whl
export PYTHONPATH="$PWD:/tmp/site" PYTHONUNBUFFERED=1
WORK=$(mktemp -d)
TEACHER=.data/device/teacher
PACKED=${PACKED:-.data/device/wide_train}
{ nproc; nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || true; } | tee "$OUT/machine.txt"
$PYTHON scripts/device_pack.py unpack "$PACKED" "$WORK/train"

start=$(date +%s.%N)
$PYTHON -m training bank build "$WORK/bank" --source train="$WORK/train" --views 2 --threads "$(nproc)" \
    --teacher-dir "$TEACHER" 2>&1 | tr '\r' '\n' | tail -n 2 | tee "$OUT/bank.log"
echo "bank build with $(nproc) teacher threads: $($PYTHON -c "print(round($(date +%s.%N) - $start, 1))") s" \
    | tee -a "$OUT/bank.log"
$PYTHON -m training bank select "$WORK/bank" "$WORK/sel.npz" --labelled train | tee -a "$OUT/bank.log"

fit() {  # fit BATCH UNLABELLED: the stage-5 recipe's loss, augmentation and online teacher at that batch size
    $PYTHON -m training fit --config configs/cpu_consistent_sphereface20_sphereface2.toml --out "$WORK/fit_$1" \
        --set "distill.bank=\"$WORK/bank\"" --set "distill.selection=\"$WORK/sel.npz\"" \
        --set "distill.online_teacher=\"$TEACHER\"" --set "data.batch_size=$1" --set "distill.unlabelled_per_batch=$2" \
        --set data.num_workers=4 --set iterations="$ITERATIONS" --set log_every=25 --set ckpt_every=100000 \
        --set 'eval.lfw_dir=""' \
        2>&1 | tr '\r' '\n' | grep -v '^fit: ' | tee "$OUT/fit_$1.log"
    cp "$WORK/fit_$1/metrics.csv" "$OUT/metrics_$1.csv"
}
fit 32 8     # the recipe's batch: 24 labelled faces (6 people x 4) + 8 distillation-only
fit 256 0    # the paper's batch size
