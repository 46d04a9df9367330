"""``salinmas sim scale``: a weighing indicator on a pseudo-terminal, driven from the keyboard."""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import threading

from simulators._io import on_sigterm
from simulators.scales.encoders import ENCODERS, get_encoder
from simulators.scales.simulator import ScaleSimulator

HELP = """commands:
  place G      put G grams on the platter (it rings, then settles)
  remove       take everything off
  negative G   show -G grams (platter lifted)
  overload     more than the capacity
  shake S      keep it in motion for S seconds
  zero | tare  press the indicator's key
  garbage      a burst of line noise
  unplug | replug   pull the USB cable / plug it back
  status       what the display shows
  quit         (or Ctrl-D)"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="salinmas sim scale",
        description=(
            "Simulate a weighing indicator on a pseudo-terminal. It prints the device "
            "path; point a station's scale_port at it (or open it with any serial "
            "terminal). Then type commands (place 3120, remove, overload, garbage, "
            "unplug, ...; 'help' lists them), or use --auto to weigh random loads."
        ),
        epilog=HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--protocol", choices=sorted(ENCODERS), default="and_indicator")
    parser.add_argument("--dir", default=tempfile.gettempdir(), help="where the symlink goes")
    parser.add_argument("--name", default="usb-Salinmas_Sim_Scale-if00-port0")
    parser.add_argument("--division", type=int, default=20, help="division d in grams")
    parser.add_argument("--capacity", type=int, default=150_000, help="capacity in grams")
    parser.add_argument("--rate", type=float, default=10.0, help="frames per second")
    parser.add_argument("--mode", choices=["continuous", "polled"], help="default: protocol's")
    parser.add_argument("--garbage", type=float, default=0.0, help="chance of noise per frame")
    parser.add_argument("--auto", type=float, default=0.0, help="random load every N seconds")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    try:
        return _run(args)
    except KeyboardInterrupt:  # Ctrl-C or SIGTERM: the devices are closed on the way out
        return 0


def _run(args: argparse.Namespace) -> int:
    from simulators.pty import PtyDevice

    stop = threading.Event()
    line = get_encoder(args.protocol).default_line
    with (
        on_sigterm(),
        PtyDevice(args.dir, name=args.name) as dev,
        ScaleSimulator(
            args.protocol,
            dev,
            division_g=args.division,
            capacity_g=args.capacity,
            rate_hz=args.rate,
            seed=args.seed,
            mode=args.mode,
            garbage_probability=args.garbage,
        ) as sim,
    ):
        mode = "continuous" if sim.streaming else "polled"
        print(f"{args.protocol} indicator ({mode}, d={args.division} g) at {dev.path}")
        print(f"line settings the bridge uses by default: {line}", flush=True)
        if args.auto:
            return _auto(sim, args.auto, args.seed, stop)
        try:
            while not stop.is_set():
                if not _command(sim, dev, input("> ").split()):
                    break
        except EOFError:
            pass
    return 0


def _auto(sim: ScaleSimulator, every_s: float, seed: int, stop: threading.Event) -> int:
    rng = random.Random(seed)
    while not stop.is_set():
        grams = rng.randrange(500, 20_000)
        sim.place(grams)
        print(f"placed {grams} g", flush=True)
        if stop.wait(every_s / 2):
            break
        sim.remove()
        print("removed", flush=True)
        stop.wait(every_s / 2)
    return 0


def _command(sim: ScaleSimulator, dev: object, words: list[str]) -> bool:
    """Run one typed command; False to quit."""
    if not words:
        return True
    cmd, args = words[0].lower(), words[1:]
    try:
        if cmd in ("quit", "exit"):
            return False
        if cmd == "place":
            sim.place(int(args[0]))
        elif cmd == "remove":
            sim.remove()
        elif cmd == "negative":
            sim.negative(int(args[0]))
        elif cmd == "overload":
            sim.overload()
        elif cmd == "shake":
            sim.shake(float(args[0]) if args else 3.0)
        elif cmd == "zero":
            print("zeroed" if sim.zero() else "refused (motion or out of zero range)")
        elif cmd == "tare":
            print("tared" if sim.tare() else "refused (motion or nothing on the platter)")
        elif cmd == "garbage":
            print(f"sent {sim.inject_garbage()!r}")
        elif cmd in ("unplug", "replug"):
            getattr(dev, cmd)()
        elif cmd == "status":
            print(sim.display())
        else:
            print(HELP)
    except (IndexError, ValueError):
        print(f"usage error in {' '.join(words)!r}; 'help' lists the commands", file=sys.stderr)
    return True
