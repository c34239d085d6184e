"""`--dask local[:N]` / `--dask tcp://HOST:PORT`: a command's inputs run in blocks on Dask.

The commands build their usual request per input (same checks, same defaults) and hand the
list to :func:`marsspec.core.scaleout.run_scaled`; this module prints what a user needs: one
aggregated progress bar, the cluster and its dashboard, each input's outputs, the failures by
name and a summary. The exit status is 1 when any input failed.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from marsspec.cli.progress import Console, end_open_line
from marsspec.core.errors import InputError, user_message


def scaleout_options(args: argparse.Namespace):
    from marsspec.core.scaleout import ScaleoutOptions

    return ScaleoutOptions(
        scheduler=args.dask, block=args.block_size, cog=not args.no_cog, threads=args.threads
    )


def single_input(args: argparse.Namespace, command: str) -> None:
    """Without --dask a command takes one input, as it always did."""
    if len(args.input) != 1:
        raise InputError(
            f"{len(args.input)} inputs given; several inputs (or a folder or list) run with "
            f"--dask local:N, or run `marsspec {command}` once per input."
        )
    args.input = args.input[0]


def run_batch(
    command: str,
    args: argparse.Namespace,
    outputs: dict[str, str | None],
    make_request: Callable[[Path, dict[str, Path | None]], object],
) -> int:
    """Build one request per input (a bad one fails by name), run them all, report."""
    from marsspec.core.scaleout.inputs import batch_outputs, expand_inputs

    options = scaleout_options(args)
    inputs = expand_inputs(args.input)
    named = batch_outputs(inputs, outputs)
    requests, refused = [], []
    for path, paths in zip(inputs, named, strict=True):
        try:
            requests.append(make_request(path, paths))
        except InputError as error:
            refused.append(f"{path.name}: {user_message(error)}")
    return _run_and_report(command, args, options, requests, refused, len(inputs))


def _run_and_report(command, args, options, requests, refused: list[str], total: int) -> int:
    from marsspec.core.scaleout import run_scaled

    console = Console(command, quiet=args.quiet)
    result = None
    if requests:
        result = run_scaled(requests, options, progress=console.progress, log=console.info)
    console.close(success=not refused and not (result and result.failed))
    for product in result.products if result else []:
        for key, path in product.outputs.items():
            print(f"{key.lower()}={path}")
    failures = refused + [f"{p.name}: {p.error}" for p in (result.failed if result else [])]
    end_open_line()
    for line in failures:
        print(f"marsspec {command}: error: {line}", file=sys.stderr)
    seconds = f" in {result.seconds:.1f} s" if result else ""
    where = f" on {result.scheduler} ({result.workers} worker(s))" if result else ""
    print(f"summary: {total - len(failures)} of {total} input(s) done{seconds}{where}")
    return 1 if failures else 0


def read_pairs(path: Path) -> list[tuple[Path, Path]]:
    """``CTX CRISM`` per line (spaces, tabs or a comma; ``#`` comments; relative to the list)."""
    pairs = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        text = line.split("#", 1)[0].replace(",", " ").split()
        if not text:
            continue
        if len(text) != 2:
            raise InputError(
                f"{path.name} line {number}: write one CTX and one CRISM path per line."
            )
        pairs.append(tuple(p if p.is_absolute() else path.parent / p for p in map(Path, text)))
    if not pairs:
        raise InputError(f"{path.name} lists no pair; write `ctx.tif crism.img` per line.")
    return pairs  # type: ignore[return-value]


def run_pairs(command: str, args: argparse.Namespace, config) -> int:
    """Co-register every pair of ``--pairs`` as one task each; outputs in the --out folder:
    ``<crism stem>_coreg.tif``, ``_ctx.tif``, ``_points.gpkg``."""
    from marsspec.core.coreg import CoregRequest

    if not (args.pairs and args.dask):
        raise InputError("--pairs runs on Dask: give both --pairs LIST and --dask local:N.")
    if not args.out.is_dir():
        raise InputError(f"With --pairs, --out {str(args.out)!r} must be an existing folder.")
    pairs = read_pairs(args.pairs)
    stems = [crism.stem for _, crism in pairs]
    repeated = sorted({s for s in stems if stems.count(s) > 1})
    if repeated:
        raise InputError(
            f"Several CRISM products are named {repeated[0]!r}, so their outputs would collide; "
            "rename them (outputs are named after the CRISM file)."
        )
    requests, refused = [], []
    for ctx, crism in pairs:
        base = args.out / crism.stem
        try:
            requests.append(
                CoregRequest(
                    ctx,
                    crism,
                    base.with_name(f"{crism.stem}_coreg.tif"),
                    base.with_name(f"{crism.stem}_ctx.tif"),
                    base.with_name(f"{crism.stem}_points.gpkg"),
                    config,
                )
            )
        except InputError as error:
            refused.append(f"{crism.name}: {user_message(error)}")
    return _run_and_report(command, args, scaleout_options(args), requests, refused, len(pairs))


def add_dask_arguments(parser: argparse.ArgumentParser) -> None:
    """--dask and its settings (predict, superres, coregister)."""
    from marsspec.core.scaleout.layout import DEFAULT_BLOCK

    group = parser.add_argument_group("scale-out on Dask (docs/scaling.md)")
    group.add_argument(
        "--dask",
        metavar="SCHEDULER",
        default=None,
        help="run in blocks on Dask: local:N starts N single-thread worker processes here, "
        "tcp://HOST:PORT uses a running `dask scheduler`; several inputs, a folder or a .txt "
        "list of rasters then run together (OUTPUT is a folder)",
    )
    group.add_argument(
        "--block-size",
        type=int,
        default=DEFAULT_BLOCK,
        metavar="PX",
        help="block side in input pixels, aligned to the patch grid (default %(default)s)",
    )
    group.add_argument(
        "--no-cog",
        action="store_true",
        help="keep the VRT over the blocks as the output; do not write one COG of it",
    )
    group.add_argument(
        "--threads", type=int, default=None, help="torch threads per worker (default: cores/N)"
    )
