"""Fixed train / validation / test splits for super-resolution, by observation (issue 17).

A crop says nothing new about its observation's neighbouring crop (same terrain, same light,
same instrument state), so splitting crops would leak the test set into training. The lists in
``training/splits/`` assign whole observations (HiRISE ids; simulated scenes by seed) to one
split each; :func:`real_crops` and :func:`simulated_seeds` are the only ways the training and
evaluation code pick images, so a recipe cannot accidentally choose on the test split.
"""

from __future__ import annotations

import re
from pathlib import Path

from marsspec.core.errors import InputError

SPLITS_DIR = Path(__file__).resolve().parents[1] / "splits"
SPLITS = ("train", "val", "test")
REAL_CROPS_DIR = "hirise_deeplandforms"
REAL_LIST = "hirise_deeplandforms.txt"
SIMULATED_LIST = "simulated_superres.txt"
_OBSERVATION = re.compile(r"^((?:ESP|PSP)_\d{6}_\d{4})")


def read_split_list(path: Path) -> dict[str, str]:
    """``{id: split}`` from a ``<split> <id>`` list; an id in two splits is an error."""
    assigned: dict[str, str] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        text = line.split("#", 1)[0].strip()
        if not text:
            continue
        parts = text.split()
        if len(parts) != 2 or parts[0] not in SPLITS:
            raise InputError(
                f"{path}:{number}: expected '<split> <id>' with split one of {SPLITS}, got "
                f"{line!r}."
            )
        split, key = parts
        if assigned.setdefault(key, split) != split:
            raise InputError(
                f"{path}:{number}: {key} is in both {assigned[key]!r} and {split!r}; an "
                "observation belongs to one split only."
            )
    return assigned


def observation_of(filename: str) -> str:
    """The HiRISE observation id a crop's file name starts with (ESP_012600_1655_H0_V0.jpg)."""
    match = _OBSERVATION.match(Path(filename).name)
    if match is None:
        raise InputError(
            f"{filename!r} does not start with a HiRISE observation id (ESP_/PSP_nnnnnn_nnnn); "
            "name crops <observation>_<tile>.jpg."
        )
    return match.group(1)


def _check_split(split: str) -> None:
    if split not in SPLITS:
        raise InputError(f"Unknown split {split!r}; use one of {SPLITS}.")


def real_crops(data_root: str | Path, split: str) -> list[Path]:
    """The real HiRISE crops of ``split`` (sorted); empty when the data folder is absent."""
    _check_split(split)
    folder = Path(data_root) / REAL_CROPS_DIR
    if not folder.is_dir():
        return []
    assigned = read_split_list(SPLITS_DIR / REAL_LIST)
    return [
        path
        for path in sorted(folder.glob("*.jpg"))
        if assigned.get(observation_of(path.name)) == split
    ]


def simulated_seeds(split: str) -> list[int]:
    """Simulator seeds of ``split``, in increasing order."""
    _check_split(split)
    assigned = read_split_list(SPLITS_DIR / SIMULATED_LIST)
    return sorted(int(seed) for seed, where in assigned.items() if where == split)
