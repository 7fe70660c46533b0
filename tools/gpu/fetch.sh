#!/usr/bin/env bash
# After a GPU stretch, HERE: file what came back into the campaign's run folder and get
# .device/resume ready for the next stretch.
#
#   bash tools/gpu/fetch.sh FILES_AT [RUN_DIR]     (default RUN_DIR: runs/gpu)
#
# FILES_AT is the folder the device tool put the files in (its reply's files_at). First
# the old weights are tracked again (tools/gpu/slim.sh off). The run folder gets
# config.yaml, checkpoints/last.ckpt (the parts joined, checked to load),
# last.safetensors / model.safetensors, logs/segment-K/metrics.csv and gpu-K.log, K
# counting the run's segments (CPU ones included). tools/gpu/prepare.sh readies the next.
set -euo pipefail
from=${1:?usage: bash tools/gpu/fetch.sh FILES_AT [RUN_DIR]}
run=${2:-runs/gpu}
cd "$(git rev-parse --show-toplevel)"
bash tools/gpu/slim.sh off
[ -f "$from/metrics.csv" ] || { echo "$from: no metrics.csv — not what tools/gpu/train.sh brings back" >&2; exit 2; }
mkdir -p "$run/checkpoints" "$run/logs"
k=$(find "$run/logs" -maxdepth 1 -name 'segment-*' | wc -l)
mkdir "$run/logs/segment-$k"
cp "$from/metrics.csv" "$run/logs/segment-$k/"
cp "$from/train.log" "$run/gpu-$k.log"
for f in last.safetensors model.safetensors; do
  if [ -f "$from/$f" ]; then cp "$from/$f" "$run/"; fi
done
# the run's own config stays (the stretch's differs only in the machine's settings)
if [ ! -f "$run/config.yaml" ]; then cp "$from/config.yaml" "$run/"; fi
if compgen -G "$from/last.ckpt.part-*" >/dev/null; then
  cat "$from"/last.ckpt.part-* > "$run/checkpoints/last.ckpt.partial"
  python -c "import sys, torch; d = torch.load(sys.argv[1], map_location='cpu', weights_only=True); print('checkpoint at step', d['global_step'])" "$run/checkpoints/last.ckpt.partial"
  mv "$run/checkpoints/last.ckpt.partial" "$run/checkpoints/last.ckpt"
fi
echo "stretch $k filed in $run"
