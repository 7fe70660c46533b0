#!/usr/bin/env bash
# The device tool sends the working tree (tracked and not-ignored files) plus what `carry`
# names, 64 MiB at most. The four shipped ~22 MB weights of the older models make the
# tree ~93 MB, and a GPU run needs none of them. Run HERE, not on the GPU machine:
#
#   bash tools/gpu/slim.sh on    # untrack them for now (git rm --cached) and ignore them
#                                # (.git/info/exclude): they stay on disk, untouched
#   bash tools/gpu/slim.sh size  # MiB that a run would send (tree + .device)
#   bash tools/gpu/slim.sh off   # track them again, exactly as committed
#
# Between `on` and `off`, `git status` shows them as deleted: commit nothing then.
set -euo pipefail
cd "$(git rev-parse --show-toplevel)"
weights=(src/centrifuge/weights/centrifuge-cpu-v1.safetensors
         src/centrifuge/weights/centrifuge-cpu-v2.safetensors
         src/centrifuge/weights/centrifuge-cpu-v3.safetensors
         src/centrifuge/weights/c3-cpu-v1.safetensors)
exclude=$(git rev-parse --git-path info/exclude)
mkdir -p "$(dirname "$exclude")" && touch "$exclude"
mark="# tools/gpu/slim.sh"
size() {
  local tree device
  tree=$(git ls-files -z --cached --others --exclude-standard \
         | xargs -0 -r stat -c %s 2>/dev/null | awk '{s+=$1} END {print s+0}')
  device=$( (find .device -type f -print0 2>/dev/null || true) \
         | xargs -0 -r stat -c %s | awk '{s+=$1} END {print s+0}')
  awk -v t="$tree" -v d="$device" 'BEGIN {printf "tree %.1f MiB + .device %.1f MiB = %.1f MiB (limit 64)\n", t/2^20, d/2^20, (t+d)/2^20}'
}
case "${1:-}" in
  on)
    for w in "${weights[@]}"; do
      grep -qxF "/$w" "$exclude" 2>/dev/null || printf '%s\n/%s\n' "$mark" "$w" >> "$exclude"
      git rm -q --cached --ignore-unmatch "$w"
    done
    size ;;
  off)
    git reset -q HEAD -- "${weights[@]}"
    for w in "${weights[@]}"; do
      sed -i "\|^/$w\$|d" "$exclude"
    done
    sed -i "\|^$mark\$|d" "$exclude"
    git status --short -- src/centrifuge/weights
    size ;;
  size) size ;;
  *) echo "usage: bash tools/gpu/slim.sh on|off|size" >&2; exit 2 ;;
esac
