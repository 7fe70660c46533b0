#!/usr/bin/env bash
# Before a GPU stretch, HERE (not on the GPU machine): everything the call carries.
#
#   bash tools/gpu/prepare.sh [RUN_DIR]      (default RUN_DIR: runs/gpu)
#
# * .device/textures.safetensors.gz — the generator's texture bank (built once);
# * .device/resume/ — RUN_DIR's config.yaml and checkpoints/last.ckpt when the run
#   exists, so the stretch continues it (its data stream too); none: a fresh run;
# * the four old shipped weights untracked for the call (tools/gpu/slim.sh on);
# and prints what the call would send against the 64 MiB limit.
set -euo pipefail
run=${1:-runs/gpu}
cd "$(git rev-parse --show-toplevel)"
if [ ! -f .device/textures.safetensors.gz ]; then
  rm -rf .device/.textures && centrifuge corpus bundle .device/.textures --textures-only
  mkdir -p .device && mv .device/.textures/textures.safetensors.gz .device/
  rm -rf .device/.textures
fi
rm -rf .device/resume
if [ -f "$run/checkpoints/last.ckpt" ]; then
  mkdir -p .device/resume/checkpoints
  cp "$run/config.yaml" .device/resume/
  cp "$run/checkpoints/last.ckpt" .device/resume/checkpoints/
  python -c "import sys, torch; print('resumes', sys.argv[1], 'at step', torch.load(sys.argv[1], map_location='cpu', weights_only=True)['global_step'])" .device/resume/checkpoints/last.ckpt
else
  echo "no $run/checkpoints/last.ckpt: the stretch starts a fresh run"
fi
bash tools/gpu/slim.sh on
