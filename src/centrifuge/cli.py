"""The ``centrifuge`` command: a thin layer that parses arguments and calls the library.

``main(argv)`` returns the exit status: 0 on success, 2 on bad input (one line on
stderr naming the problem and the fix, nothing partial left behind), 1 when a job
finished but incompletely (e.g. a corpus package failed to download), 130 on Ctrl-C.
"""

from __future__ import annotations

import argparse
import signal
import sys
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

from centrifuge import cli_args
from centrifuge._version import __version__
from centrifuge.cli_process import one_line_warning, terminate_as_interrupt
from centrifuge.errors import OOM_FIX, CentrifugeError, describe_oom, one_line, out_of_memory

_COMMANDS: dict[str, Callable[[argparse._SubParsersAction], None]] = {}


def command(fn: Callable[[argparse._SubParsersAction], None]):
    """Register a function that adds one subcommand's parser."""
    _COMMANDS[fn.__name__.removeprefix("add_")] = fn
    return fn


@command
def add_corpus(sub) -> None:
    p = sub.add_parser("corpus", help="build or list the real-clip sample corpus")
    csub = p.add_subparsers(dest="corpus_command", required=True,
                            metavar="{build,list,bundle}")
    for name, help_ in (("build", "download, verify and index the pinned clips (idempotent)"),
                        ("list", "print the corpus table"),
                        ("bundle", "copy the clips and a texture bank into a small folder "
                                   "that trains offline elsewhere (e.g. a GPU machine)")):
        q = csub.add_parser(name, help=help_)
        q.add_argument("--root", help="corpus folder (default $CENTRIFUGE_HOME or "
                                      "~/.cache/centrifuge)")
        if name == "bundle":
            q.add_argument("target", help="the folder to create (must not exist)")
            q.add_argument("--textures-only", action="store_true",
                           help="only the texture bank, gzipped (procedural training on a "
                                "machine without PyAV, e.g. a lent GPU: tools/gpu/)")
            q.add_argument("--texture-frames", type=cli_args.positive_int, metavar="N",
                           help="frames of each train clip in the bank (data.texture_frames; "
                                "default: its default)")
            q.add_argument("--texture-stills", action="store_true",
                           help="the corpus stills in the bank too (data.texture_stills)")
    p.set_defaults(run=_run_corpus)


def _run_corpus(args) -> int:
    from centrifuge.data.corpus import Corpus, build, format_table

    if args.corpus_command == "build":
        report = build(args.root)
        corpus = Corpus.load(args.root)
        print(format_table(corpus))
        if not report.ok:
            failed = ", ".join(report.failed)
            print(f"corpus incomplete: {failed} failed; run `centrifuge corpus build` again "
                  "to retry (the rest is usable)", file=sys.stderr)
            return 1
        return 0
    if args.corpus_command == "bundle":
        from centrifuge.data.bundle import make_bundle

        # the default frame count stays make_bundle's (importing it here would load torch
        # while the parser is built)
        frames = {} if args.texture_frames is None else {"texture_frames": args.texture_frames}
        target = make_bundle(args.target, args.root, textures_only=args.textures_only,
                             texture_stills=args.texture_stills, **frames)
        size = sum(p.stat().st_size for p in target.rglob("*") if p.is_file())
        if args.textures_only:
            print(f"wrote {target} ({size / 2**20:.1f} MiB); train on procedural video "
                  f"with it:\n  centrifuge train -c gpu-small "
                  f"data.textures={target}/textures.safetensors.gz")
            return 0
        print(f"wrote {target} ({size / 2**20:.1f} MiB); train with it anywhere:\n"
              f"  CENTRIFUGE_HOME={target} centrifuge train -c cpu2 "
              f"data.textures={target}/textures.safetensors")
        return 0
    print(format_table(Corpus.load(args.root)))
    return 0


@command
def add_train(sub) -> None:
    p = sub.add_parser(
        "train", help="train a model on blended video pairs",
        description="Train on blended pairs (Lightning). Configs: tiny (CPU minutes), cpu "
                    "(the shipped default model's recipe), paper112, paper224, or a .yaml "
                    "path; any field can be overridden as key=value (data.frames=16).",
    )
    p.add_argument("overrides", nargs="*", metavar="key=value", help="config overrides")
    p.add_argument("-c", "--config", help="config name or .yaml path (default: paper defaults)")
    p.add_argument("--resume", metavar="RUN_OR_CKPT",
                   help="continue a run (its folder or a .ckpt); its config.yaml is reused")
    p.add_argument("--out", help="runs folder (default: runs/)")
    p.add_argument("--run-dir", help="this run's folder (default: <out>/<config>-<time>); "
                   "must not exist yet; with --resume, a new run branching off that one")
    p.add_argument("--list-configs", action="store_true", help="print the shipped configs")
    p.set_defaults(run=_run_train)


def _run_train(args) -> int:
    from centrifuge.config import list_configs, load_config
    from centrifuge.train.run import TrainingInterrupted, config_for_resume, train

    if args.list_configs:
        print("\n".join(list_configs()))
        return 0
    overrides = list(args.overrides)
    if args.out:
        overrides.append(f"out_dir={args.out}")
    if args.resume:
        config = config_for_resume(args.resume, overrides, args.config)
    else:
        config = load_config(args.config, overrides)
    from centrifuge.errors import ConfigError

    if args.run_dir and not args.resume and Path(args.run_dir).exists():
        raise ConfigError(f"--run-dir {args.run_dir} already exists; resume it with "
                          f"--resume {args.run_dir} or choose a new folder")
    try:
        run_dir = train(config, resume=args.resume, run_dir=args.run_dir)
    except TrainingInterrupted as e:
        print(f"centrifuge: {e}", file=sys.stderr)
        return 130
    print(f"run finished: {run_dir} (model: {run_dir / 'model.safetensors'})")
    return 0


@command
def add_separate(sub) -> None:
    p = sub.add_parser(
        "separate", help="separate videos into their layers",
        description="Separate videos into layers: writes <out>/<model>/<stem>/layer_*.mp4, "
                    "mosaic.mp4, contact.png, summary.json and report.html. Several files "
                    "or folders (their videos) share one model load.",
    )
    p.add_argument("inputs", nargs="*", metavar="VIDEO_OR_FOLDER", help="videos to separate")
    p.add_argument("-o", "--out", default="separated", help="output root (default: separated/)")
    p.add_argument("-n", "--model", default="default",
                   help="a method of --list-models or a .safetensors checkpoint (default: "
                        "default = auto, training-free)")
    p.add_argument("--layers", type=cli_args.kept_layers, default=None, metavar="{2,all}",
                   help="keep only 2 layers, chosen by --select (default: all)")
    p.add_argument("--select", choices=["recompose", "dissimilar"], default="recompose",
                   help="with --layers 2: the pair that best re-composes the input among "
                        "dissimilar pairs (default), or the paper's most dissimilar pair")
    p.add_argument("--segment", type=cli_args.at_least(2), default=None,
                   help="frames per segment (default: the method's own, 32 for all today)")
    p.add_argument("--overlap", type=cli_args.fraction, default=0.25,
                   help="fraction of a segment shared with the next (0.25)")
    p.add_argument("--shifts", type=int, choices=[1, 2, 3, 4], default=1,
                   help="test-time augmentation: average over N flipped / time-reversed "
                        "views (N times slower; default 1: off)")
    p.add_argument("--audio", metavar="FILE",
                   help="C3 models: the sound whose layer to pick (a video or audio file; "
                        "default: each video's own soundtrack); written as selected.mp4")
    p.add_argument("--device", type=cli_args.device, default="cpu", help="cpu, cuda or cuda:N")
    cli_args.precision_option(p)
    p.add_argument("--max-size", type=cli_args.size_limit, default=512, metavar="PIXELS",
                   help="downscale inputs whose longer side exceeds this (default 512; 0: never)")
    p.add_argument("--format", choices=["mp4", "png", "npz"], default="mp4",
                   help="layers as mp4 with sound (default), png frames, or npz arrays")
    p.add_argument("--no-mosaic", action="store_true",
                   help="skip mosaic.mp4 and contact.png (faster)")
    p.add_argument("--no-report", action="store_true", help="skip report.html")
    p.add_argument("--force", action="store_true", help="replace earlier outputs (only files "
                   "separate wrote)")
    p.add_argument("--list-models", action="store_true",
                   help="print the methods, training-free and learned")
    p.set_defaults(run=_run_separate)


def _run_separate(args) -> int:
    from centrifuge.io.media import expand_inputs
    from centrifuge.methods import describe_methods
    from centrifuge.separation.files import separate_file
    from centrifuge.separation.inference import Separator
    from centrifuge.separation.summary import format_result

    if args.list_models:
        for name, kind, summary in describe_methods():
            print(f"{name:20s} {kind:13s} {summary}")
        return 0
    if not args.inputs:
        raise CentrifugeError("no input video; usage: centrifuge separate VIDEO... [-o DIR]")
    for item in args.inputs:  # after `--` argparse reads options as inputs too
        if item.startswith("-") and not Path(item).exists():
            raise CentrifugeError(f"{item!r} is not a file: after `--` every argument is "
                                  "read as a video; put options before `--` (e.g. "
                                  "centrifuge separate -o out -- -video.mp4)")
    inputs = expand_inputs(args.inputs)
    sep = Separator(args.model, device=args.device, precision=args.precision,
                    segment=args.segment, overlap=args.overlap, max_size=args.max_size,
                    shifts=args.shifts, audio=args.audio)
    failed = 0
    for path in inputs:
        try:
            result = separate_file(sep, path, args.out, layers=args.layers, force=args.force,
                                   select=args.select, format=args.format,
                                   mosaic=not args.no_mosaic, report=not args.no_report)
        except CentrifugeError as e:
            if len(inputs) == 1:
                raise
            failed += 1
            print(f"centrifuge: error: {e}", file=sys.stderr)
            continue
        print(format_result(result))
    if failed:
        print(f"centrifuge: {failed} of {len(inputs)} videos failed (see above); the others "
              "were separated", file=sys.stderr)
        return 2
    return 0


@command
def add_evaluate(sub) -> None:
    p = sub.add_parser(
        "evaluate", help="PIT loss vs Identity and PSNR on seeded corpus val blends",
        description="Evaluate a model on seeded blends of the corpus val split (clips never "
                    "trained on): the model card's numbers.",
    )
    p.add_argument("-n", "--model", default="default", help="a method of `separate "
                   "--list-models` or a checkpoint (default: default = auto)")
    p.add_argument("--blend", nargs="+", choices=["transparent", "occlusion", "camera-fixed",
                                                  "camera-fixed-reflection", "two-motion",
                                                  "two-motion-reflection",
                                                  "moving-occluder"],
                   default=["transparent", "occlusion"],
                   help="camera-fixed: one clip as it is, the other panning past it (motion "
                        "is the cue, so give it 16+ --frames); camera-fixed-reflection: the "
                        "fixed one as a faint reflection in glass; two-motion: each clip "
                        "through its own camera; two-motion-reflection: the same, the first "
                        "a faint reflection; moving-occluder: a fence, drops, blobs or a "
                        "clip's supervoxels over a clip")
    p.add_argument("--samples", type=cli_args.positive_int, default=64)
    p.add_argument("--frames", type=cli_args.at_least(4), default=32)
    p.add_argument("--size", type=cli_args.at_least(16), default=112)
    cli_args.precision_option(p)
    p.add_argument("--device", type=cli_args.device, default="cpu")
    p.add_argument("--root", help="corpus folder (default $CENTRIFUGE_HOME or ~/.cache/centrifuge)")
    p.add_argument("--split", choices=["val", "train"], default="val",
                   help="corpus split to blend (train: new crops of the training videos)")
    p.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    p.add_argument("--shifts", type=int, choices=[1, 2, 3, 4], default=1,
                   help="test-time augmentation views, as in `separate --shifts`")
    p.add_argument("--rules", action="store_true",
                   help="also print every --layers 2 selection rule (the JSON has them all)")
    p.add_argument("--offsets", type=cli_args.seconds, nargs="+", default=[0.0], metavar="SECONDS",
                   help="C3 models: shift the control sound by these offsets (ICCV App. C; "
                        "default 0)")
    p.add_argument("--synthetic", action="store_true",
                   help="C3 models: blends of procedural scenes with motion soundtracks "
                        "instead of the corpus (a check of the mechanism)")
    p.set_defaults(run=_run_evaluate)


def _run_evaluate(args) -> int:
    from centrifuge.evaluate import run_evaluate

    return run_evaluate(args)


@command
def add_demo(sub) -> None:
    p = sub.add_parser("demo", help="blend two real val clips, separate them, print a table")
    p.add_argument("-o", "--out", default="separated", help="output root (default: separated/)")
    p.add_argument("-n", "--model", help="a method or checkpoint (default: default = auto, "
                   "or c3-cpu-v1 with --audio)")
    p.add_argument("--root", help="corpus folder")
    p.add_argument("--device", type=cli_args.device, default="cpu")
    p.add_argument("--audio", action="store_true", help="C3: blend speech with music, keep "
                   "the speech, get the talking layer as selected.mp4")
    p.add_argument("--camera-fixed", action="store_true", help="the talking head stays "
                   "still in the frame, the city pans past it; separated by static-layer")
    p.add_argument("--reflection", action="store_true", help="with --camera-fixed: the still "
                   "head as a faint reflection in glass; separated by static-reflection")
    p.add_argument("--force", action="store_true", help="replace an earlier demo's outputs")
    cli_args.precision_option(p)
    p.set_defaults(run=_run_demo)


def _run_demo(args) -> int:
    from centrifuge.demo import format_report, run_demo

    report = run_demo(args.out, model=args.model, root=args.root, force=args.force,
                      device=args.device, audio=args.audio, precision=args.precision,
                      camera_fixed=args.camera_fixed, reflection=args.reflection)
    print(format_report(report))
    return 0


@command
def add_export(sub) -> None:
    p = sub.add_parser("export", help="write a model as one plain-data safetensors file",
                       description="Export a training checkpoint (.ckpt or .safetensors) to a "
                                   "model file `centrifuge separate -n` takes.")
    p.add_argument("source", help="a run's .ckpt or .safetensors")
    p.add_argument("target", help="the .safetensors file to write (never the source)")
    p.add_argument("--dtype", choices=["fp32", "fp16", "bf16"], default="fp32",
                   help="storage type of the weights (fp16 halves the file; loads as fp32)")
    p.add_argument("--metrics", metavar="JSON", help="evaluation results to embed")
    p.add_argument("--force", action="store_true", help="replace an existing target")
    p.set_defaults(run=_run_export)


def _run_export(args) -> int:
    from centrifuge.models.checkpoint import export_model

    target, name = export_model(args.source, args.target, dtype=args.dtype,
                                metrics=args.metrics, force=args.force)
    print(f"wrote {target} ({target.stat().st_size / 2**20:.1f} MiB, {name})")
    return 0


@command
def add_classify(sub) -> None:
    p = sub.add_parser("classify", help="Kinetics-400 top-5 of a clip with the imported I3D")
    p.add_argument("input", help="a video")
    p.add_argument("--start", type=cli_args.seconds, default=0.0, help="start time in seconds")
    p.add_argument("--frames", type=cli_args.positive_int, default=64)
    p.add_argument("--root", help="corpus folder holding the I3D weights")
    cli_args.precision_option(p, gpu=False)
    p.set_defaults(run=_run_classify)


def _run_classify(args) -> int:
    from centrifuge.models.kinetics import classify_video

    for name, p in classify_video(args.input, start_s=args.start, frames=args.frames,
                                  root=args.root, precision=args.precision):
        print(f"{p:6.3f}  {name}")
    return 0


class _Parser(argparse.ArgumentParser):
    """Usage errors are one line and exit status 2, like every other bad input."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}\n")


def get_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="centrifuge",
        description="Separate a video into its layers (The Visual Centrifuge, CVPR 2019).",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for add in _COMMANDS.values():
        add(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = get_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # --help, --version, usage errors: a status, not an exception
        return int(e.code or 0)
    if not getattr(args, "run", None):
        parser.print_help()
        return 0
    previous_format, warnings.formatwarning = warnings.formatwarning, one_line_warning
    # train: Lightning turns SIGTERM into a checkpoint (train/callbacks.py)
    previous = terminate_as_interrupt() if args.command != "train" else None
    try:
        return int(args.run(args) or 0)
    except CentrifugeError as e:
        print(f"centrifuge: error: {one_line(e)}", file=sys.stderr)
        return 2
    except OSError as e:  # the file system refused (full, read-only, gone): not a bug
        from centrifuge.safe_writes import write_error

        print(f"centrifuge: error: {write_error(e)}", file=sys.stderr)
        return 2
    except (MemoryError, RuntimeError) as e:
        if not out_of_memory(e):
            raise
        print(f"centrifuge: error: out of memory ({describe_oom(e)}); "
              f"{OOM_FIX.get(args.command, OOM_FIX['separate'])}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("centrifuge: interrupted; nothing partial was left", file=sys.stderr)
        return 130
    finally:
        warnings.formatwarning = previous_format
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    sys.exit(main())
