"""Evaluation experiments; one module per family, each printing a table and writing JSON."""

from __future__ import annotations


def run_evaluate(args) -> int:
    """``centrifuge evaluate`` (arguments parsed by ``centrifuge.cli``): blends, or a C3's
    control, printed as a table and optionally written as JSON."""
    import json

    from centrifuge.evaluate.blends import as_dict, evaluate_blends, format_results
    from centrifuge.safe_writes import check_output_file, write_text_atomic
    from centrifuge.separation.inference import Separator

    if args.json:  # before minutes of work, never over the model it evaluates
        check_output_file(args.json, inputs=[args.model], flag="--json")
    sep = Separator(args.model, device=args.device, precision=args.precision,
                    segment=args.frames, overlap=0.0, max_size=None, shifts=args.shifts,
                    progress=False)
    header = {"model": sep.method.name, "split": args.split, "frames": args.frames,
              "size": args.size, "precision": sep.precision,
              "precision_reason": sep.precision_reason}
    if sep.takes_audio:
        return _evaluate_control(sep, args, header)
    from centrifuge.evaluate import moving_occluder as mo

    blends = [b for b in args.blend if b != mo.MOVING_OCCLUDER]
    results = [evaluate_blends(sep, blend=b, samples=args.samples, frames=args.frames,
                               size=args.size, root=args.root, split=args.split)
               for b in blends]
    occluder = (mo.evaluate_moving_occluder(sep, samples=args.samples, frames=args.frames,
                                            size=args.size, root=args.root, split=args.split)
                if mo.MOVING_OCCLUDER in args.blend else None)
    if results:
        print(format_results(results, sep.method.name, args.split, rules=args.rules))
    if occluder is not None:
        print(mo.format_moving_occluder(occluder, sep.method.name))
    if args.json:
        payload = {**header, "results": [as_dict(r) for r in results]
                   + ([mo.as_dict(occluder)] if occluder is not None else [])}
        write_text_atomic(args.json, json.dumps(payload, indent=1))
    return 0


def _evaluate_control(sep, args, header: dict) -> int:
    import json

    from centrifuge.evaluate.control import evaluate_control, format_control
    from centrifuge.safe_writes import write_text_atomic

    source = "synthetic" if args.synthetic else "corpus"
    results = [evaluate_control(sep, samples=args.samples, frames=args.frames, size=args.size,
                                root=args.root, split=args.split, offset_s=o, source=source)
               for o in args.offsets]
    print(format_control(results, sep.method.name))
    if args.json:
        payload = {**header, "source": source,
                   "control": [{"offset_s": r.offset_s, "samples": r.samples,
                                "loss": round(r.loss, 5), "identity": round(r.identity, 5),
                                "ratio": round(r.ratio, 4), "accuracy": round(r.accuracy, 4),
                                "chance": round(r.chance, 4),
                                "sound_dependence": round(r.sound_dependence, 4)}
                               for r in results]}
        write_text_atomic(args.json, json.dumps(payload, indent=1))
    return 0
