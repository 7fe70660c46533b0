"""``report.html``: one page to look at a separation.

The input and the layers play side by side and in sync (one set of controls drives
them all), above the labelled contact sheet, per-layer statistics, the selection, the
settings and the timings. The page is self-contained: no network, no script or style
from elsewhere; it refers only to the files beside it, so the folder can be moved or
zipped whole.
"""

from __future__ import annotations

import html
import json
from pathlib import Path

from centrifuge.safe_writes import write_text_atomic

_STYLE = """
body{font:14px/1.4 system-ui,sans-serif;margin:16px;background:#111;color:#eee}
h1{font-size:18px;margin:0 0 8px} h2{font-size:15px;margin:18px 0 6px}
.row{display:flex;flex-wrap:wrap;gap:8px}
figure{margin:0;background:#222;padding:4px;border-radius:4px}
figcaption{font-weight:600;padding:2px 0 4px}
video,img{display:block;max-width:100%}
table{border-collapse:collapse} td,th{border:1px solid #444;padding:2px 8px;text-align:right}
th{background:#222} td:first-child,th:first-child{text-align:left}
.controls{margin:8px 0} button{font:inherit;padding:2px 12px}
"""

_SCRIPT = """
const vids=[...document.querySelectorAll('video.sync')];
const lead=vids[0];
function all(f){vids.forEach(f)}
document.getElementById('play').onclick=()=>{all(v=>v.currentTime=lead.currentTime);
  if(lead.paused){all(v=>v.play())}else{all(v=>v.pause())}};
document.getElementById('restart').onclick=()=>all(v=>{v.currentTime=0});
lead.addEventListener('timeupdate',()=>{vids.slice(1).forEach(v=>{
  if(Math.abs(v.currentTime-lead.currentTime)>0.1){v.currentTime=lead.currentTime}})});
vids.slice(1).forEach(v=>{v.muted=true});
"""


def _table(header: list[str], rows: list[list]) -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>"
                   for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _figure(label: str, video: str | None) -> str:
    """A labelled, synchronised video; without one (png/npz layers) just its name."""
    body = (f'<video class="sync" src="{html.escape(video)}" preload="auto" muted '
            'playsinline></video>' if video else f"<p>{html.escape(label)}</p>")
    return f"<figure><figcaption>{html.escape(label)}</figcaption>{body}</figure>"


def _warning(summary: dict) -> str:
    """The method's own account, where it could not separate (motion-layers)."""
    if not summary.get("warning"):
        return ""
    text = html.escape(summary["warning"])
    return f'<p class="warning"><strong>Not separated:</strong> {text}</p>'


def _segments(summary: dict) -> str:
    """What a training-free method found in each segment, and (auto) what it chose."""
    reports = summary.get("segments") or []
    if not reports:
        return ""
    rows = [[i, r.get("frames", "—"), r.get("chose", "—"), r.get("blend", "—"),
             "yes" if r.get("separated", True) else "no",
             r.get("reason") or r.get("why") or ""]
            for i, r in enumerate(reports)]
    return "<h2>What the method found per segment</h2>" + _table(
        ["segment", "frames", "chose", "blend", "separated", "why"], rows)


def render_report(folder: Path, summary: dict) -> str:
    """The page's HTML for the outputs in ``folder`` described by ``summary``."""
    inp = summary["input"]
    layers = summary["layers"]
    title = f"{Path(inp['path']).name} — {summary['model']}"
    videos = []
    if (folder / "mosaic.mp4").exists():
        videos.append(_figure("input | outputs (mosaic, with sound)", "mosaic.mp4"))
    control = summary.get("control")
    if control and control.get("file"):
        videos.append(_figure(f"selected by the sound: model output "
                              f"{control['selected_output']}", control["file"]))
    for name, info in layers.items():
        label = f"{name} (model output {info['model_output']}"
        label += f": the {info['holds']})" if info.get("holds") else ")"
        videos.append(_figure(label, name if name.endswith(".mp4") else None))
    stats = _table(["layer", "model output", "mean RGB", "std", "mean |layer − input|"],
                   [[k, v["model_output"], ", ".join(f"{c:.3f}" for c in v["mean_rgb"]),
                     f"{v['std']:.4f}", f"{v['mean_abs_diff_to_input']:.4f}"]
                    for k, v in layers.items()])
    sel = summary["selection"]
    n = len(sel["distance"])
    distance = _table(["output", *map(str, range(n))],
                      [[i, *(f"{x:.4f}" for x in row)] for i, row in enumerate(sel["distance"])])
    settings = _table(["setting", "value"], [[k, json.dumps(v)] for k, v in
                                             summary["settings"].items()])
    timings = _table(["step", "value"], [[k, v] for k, v in summary["timings_s"].items()])
    facts = _table(["input", "value"], [[k, json.dumps(v)] for k, v in inp.items()])
    contact = ('<h2>Contact sheet</h2><img src="contact.png" alt="contact sheet">'
               if (folder / "contact.png").exists() else "")
    if control:
        contact += "<h2>Control by sound (C3)</h2>" + _table(
            ["sound", "control scores (lowest wins)", "picked output", "silent"],
            [[control["audio"], ", ".join(f"{v:.4f}" for v in control["scores"]),
              control["selected_output"], control["silent"]]])
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)}</title><style>{_STYLE}</style></head>
<body>
<h1>{html.escape(title)}</h1>
{_warning(summary)}
<p>{inp['frames']} frames at {inp['fps']:.3f} fps, {inp['size'][0]}×{inp['size'][1]};
kept outputs {sel['kept_outputs']} (rule: {html.escape(sel['rule'])}).</p>
<div class="controls"><button id="play">play / pause</button>
<button id="restart">restart</button></div>
<div class="row">{''.join(videos)}</div>
{contact}
{_segments(summary)}
<h2>Layers</h2>{stats}
<h2>Selection: mean |output i − output j|</h2>{distance}
<h2>Input</h2>{facts}
<h2>Settings</h2>{settings}
<h2>Timings (s)</h2>{timings}
<script>{_SCRIPT}</script>
</body></html>
"""


def write_report(folder: Path, summary: dict) -> Path:
    return write_text_atomic(folder / "report.html", render_report(folder, summary))
