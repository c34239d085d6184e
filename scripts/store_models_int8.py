"""Re-store bundled fp16 weights as int8 per output channel (maintainers' tool, issue 21).

Reads ``<models-dir>/manifest.json`` and each listed ``.safetensors`` file, writes the int8
format of :mod:`marsspec.core.models.weight_format` into ``--out`` together with a copy of the
manifest whose ``sha256``, ``size_bytes`` and ``dtype`` describe the new files (cards are
copied unchanged). Evaluate the copy with ``eval spectra --manifest`` / ``eval sr --manifest``
before copying it over ``models/``. Already-int8 files are re-stored as they are.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

from marsspec.core.models.manifest import read_weights
from marsspec.core.models.weight_format import FORMAT_FP16, FORMAT_INT8, save_weights
from marsspec.core.provenance import sha256_file

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--models-dir", type=Path, default=ROOT / "models")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--keep-fp16", default="", help="comma-separated model ids to keep fp16")
    args = parser.parse_args()
    keep = {name for name in args.keep_fp16.split(",") if name}
    args.out.mkdir(parents=True, exist_ok=True)
    data = json.loads((args.models_dir / "manifest.json").read_text(encoding="utf-8"))
    for entry in data["models"]:
        source = args.models_dir / entry["weights"]
        target = args.out / entry["weights"]
        fmt = FORMAT_FP16 if entry["id"] in keep else FORMAT_INT8
        entry["dtype"] = save_weights(read_weights(source), target, entry["id"], fmt=fmt)
        entry["sha256"] = sha256_file(target)
        entry["size_bytes"] = target.stat().st_size
        target.chmod(0o644)  # the plugin zip needs it readable
        if entry.get("card"):
            shutil.copy2(args.models_dir / entry["card"], args.out / entry["card"])
        print(f"model={entry['id']} dtype={entry['dtype']} size_bytes={entry['size_bytes']}")
    text = json.dumps(data, indent=2) + "\n"
    (args.out / "manifest.json").write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
