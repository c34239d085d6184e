#!/usr/bin/env bash
# Build .venv from Debian's Python (so qgis, osgeo and rasterio stay importable), install the
# pinned requirements, and make the repository importable as the package `marsspec`.
# Usage: setup_venv.sh VENV PLUGINS_DIR
set -euo pipefail
venv=$1
plugins=$2
root=$(cd "$(dirname "$0")/.." && pwd)

if [[ ! -x "$venv/bin/python" ]]; then
    /usr/bin/python3 -m venv --system-site-packages "$venv"
fi
export PYTHONNOUSERSITE=1
"$venv/bin/python" -m pip install -q --disable-pip-version-check \
    -r "$root/requirements.txt" -c "$root/constraints.txt"

# The plugin folder is the package: build/plugins/marsspec -> repository root.
mkdir -p "$plugins"
ln -sfn "$root" "$plugins/marsspec"
site=$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
echo "$plugins" > "$site/marsspec-plugin-path.pth"

# A console command that needs no environment set by hand (-s: ignore ~/.local).
cat > "$venv/bin/marsspec" <<SCRIPT
#!$venv/bin/python -s
import sys
from marsspec.cli.main import main
if __name__ == "__main__":  # Dask's local workers re-import the main script: run it once
    sys.exit(main())
SCRIPT
chmod +x "$venv/bin/marsspec"
echo "setup: $venv ready"
