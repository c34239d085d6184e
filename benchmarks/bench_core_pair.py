"""How much two single-thread processes slow each other on this machine (issue 19).

The ceiling of any 2-worker speedup is 2 / slowdown. Each process runs the tiling benchmark's
U-Net (prepared, one torch thread) on 12 batches of 4 x 256 px; first alone (best of 2), then
two at once (best of 2, the slower of the pair). Prints ``key=value`` lines; asserts nothing.

    python benchmarks/bench_core_pair.py
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

WORK = f"""
import sys, time, torch
sys.path.insert(0, {str(ROOT / "benchmarks")!r})
import bench_tiling
from marsspec.core.tiling.prepare import prepare_for_inference
torch.set_num_threads(1)
net = prepare_for_inference(bench_tiling._unet()).module
x = torch.rand(4, 1, 256, 256).contiguous(memory_format=torch.channels_last)
with torch.inference_mode():
    net(x)
    start = time.perf_counter()
    for _ in range(12):
        net(x)
print(time.perf_counter() - start)
"""


def _run(processes: int) -> list[float]:
    started = [
        subprocess.Popen([sys.executable, "-c", WORK], stdout=subprocess.PIPE, text=True)
        for _ in range(processes)
    ]
    return [float(p.communicate()[0]) for p in started]


def main() -> int:
    alone = min(_run(1)[0] for _ in range(2))
    pair = min(max(_run(2)) for _ in range(2))
    print(f"core_pair_alone_s={alone:.2f}")
    print(f"core_pair_together_s={pair:.2f}")
    print(f"core_pair_slowdown={pair / alone:.3f}")
    print(f"core_pair_ceiling_speedup_2w={2 * alone / pair:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
