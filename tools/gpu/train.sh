#!/usr/bin/env bash
# One stretch of the GPU campaign, run ON the lent GPU machine from the repository root
# (the device tool's `run`; README.md here is the whole procedure). It also runs on a CPU,
# which is how it is tested: OUT=/tmp/o MINUTES=0.5 WORKERS=1 bash tools/gpu/train.sh
#
#   MINUTES (default 7)  wall-clock minutes of training (trainer.max_minutes)
#   BUDGET (default 1)   first time training steps of candidate networks on the GPU
#                        (benchmarks/budget.py, < 100 s): GPU or loader, which limits?
#   WORKERS (default 14) loader processes (each renders blends on one CPU core)
#   OUT                  where the results go (the device tool sets it)
#   arguments            extra key=value config overrides
#
# Starts from scratch with configs/gpu-small.yaml, or resumes .device/resume/ (a run
# folder: config.yaml + checkpoints/last.ckpt) when it is there. Needs .device/ carried,
# holding textures.safetensors.gz (`centrifuge corpus bundle .device --textures-only`).
# Brings back, each well under the 16 MiB a file may be: last.safetensors and
# model.safetensors (weights), metrics.csv, config.yaml, train.log, and the resumable
# checkpoint split into last.ckpt.part-00, -01 (`cat` joins them; tools/gpu/fetch.sh).
set -uo pipefail
minutes=${MINUTES:-7}
out=${OUT:?set OUT to the folder the results go to}
run=$(mktemp -d)/run
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
export CENTRIFUGE_HOME="${CENTRIFUGE_HOME:-$(mktemp -d)}"  # procedural data only
log="$out/train.log"
mkdir -p "$out"
{
  date -u
  python3 -c "import torch, platform; print('torch', torch.__version__, '| python',
platform.python_version(), '| cuda', torch.cuda.is_available() and
torch.cuda.get_device_name(0), '| cpus', __import__('os').cpu_count())"
} 2>&1 | tee "$log"
if [ ! -f .device/textures.safetensors.gz ]; then
  echo "no .device/textures.safetensors.gz: build it with \`centrifuge corpus bundle" \
       ".device --textures-only\` and carry .device" | tee -a "$log"
  exit 2
fi
if [ "${BUDGET:-1}" = 1 ] && python3 -c "import torch, sys; sys.exit(not torch.cuda.is_available())"; then
  timeout 100 python3 benchmarks/budget.py --device cuda --batch 16 --steps 10 --candidates \
    small:8x64 small-wide:8x64 small:16x112 cpu:32x112 paper:32x112 2>&1 | tee -a "$log"
fi
if [ -f .device/resume/checkpoints/last.ckpt ]; then
  args=(--resume .device/resume --run-dir "$run")
else
  args=(-c gpu-small --run-dir "$run")
fi
start=$SECONDS
# The machine's settings, also over a resumed run's own (one begun on a 2-core CPU):
machine=("data.workers=${WORKERS:-14}" "trainer.val_every=2500" "trainer.max_minutes=$minutes")
python3 -m centrifuge train "${args[@]}" "${machine[@]}" "$@" 2>&1 \
  | tr '\r' '\n' | grep --line-buffered -v -E 'it/s|^[[:space:]]*(.\[A)?$' | tee -a "$log"
status=${PIPESTATUS[0]}
seconds=$((SECONDS - start))
# Whatever the run left, even when it failed part-way: weights, metrics, checkpoint.
for f in last.safetensors model.safetensors config.yaml; do
  if [ -f "$run/$f" ]; then cp "$run/$f" "$out/"; fi
done
metrics=$(ls -d "$run"/logs/segment-*/metrics.csv 2>/dev/null | tail -1)
if [ -n "$metrics" ]; then cp "$metrics" "$out/metrics.csv"; fi
if [ -f "$run/checkpoints/last.ckpt" ]; then
  split -b 15M -d "$run/checkpoints/last.ckpt" "$out/last.ckpt.part-"
fi
# The stretch in one line: steps, blends, blends/s, the last held-out ratios.
python3 - "$out" "$seconds" <<'PY' 2>&1 | tee -a "$log"
import csv, json, os, sys

import torch
import yaml

out, seconds = sys.argv[1], int(sys.argv[2])
try:
    rows = list(csv.DictReader(open(f"{out}/metrics.csv")))
    batch = yaml.safe_load(open(f"{out}/config.yaml"))["data"]["batch_size"]
except OSError:
    sys.exit("no metrics.csv or config.yaml: the run wrote no metrics")
resumed = ".device/resume/checkpoints/last.ckpt"
start = torch.load(resumed, map_location="cpu", weights_only=True)["global_step"] \
    if os.path.isfile(resumed) else 0
try:  # the step the weights were exported at (metrics.csv logs every log_every steps)
    from safetensors import safe_open

    with safe_open(f"{out}/last.safetensors", "pt") as f:
        end = int(json.loads(f.metadata()["metrics"])["step"])
except (OSError, KeyError, ValueError):
    end = max(int(r["step"]) for r in rows) + 1
val = [r for r in rows if r.get("val_synth_transparent/ratio")]
last = val[-1] if val else {}
print(f"steps {start}..{end}: {(end - start) * batch} blends in {seconds} s (start-up "
      f"included) = {(end - start) * batch / seconds:.0f} blends/s; held-out ratio to Identity "
      f"transparent {last.get('val_synth_transparent/ratio', '-')}, occlusion "
      f"{last.get('val_synth_occlusion/ratio', '-')}; to the best trivial baseline "
      f"{last.get('val_synth_transparent/vs_trivial', '-')} / "
      f"{last.get('val_synth_occlusion/vs_trivial', '-')}; transparent with the motion taken "
      f"out {last.get('val_synth_transparent/still_ratio', '-')} (above the moving ratio: the "
      "model separates by motion)")
PY
date -u | tee -a "$log"
ls -l "$out" | tee -a "$log"
exit "$status"
