"""A small PDS3 label parser (ODL): enough for CRISM, HiRISE and other PDS3 products.

GDAL's PDS driver refuses several real CRISM labels (a ROWNUM_TABLE pointer past the end of
the file, lower-case file names on disk), so marsspec reads labels itself and only asks GDAL
to read raw pixels (see raw_vrt.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from marsspec.core.errors import InputError, RasterIOError

_COMMENT = re.compile(r"/\*.*?\*/", re.DOTALL)
_UNIT = re.compile(r"<([^<>]*)>\s*$")


@dataclass(frozen=True)
class Quantity:
    """A label value with a unit, e.g. ``3393.8 <KM>``."""

    value: object
    unit: str


def read_label_text(path: Path) -> str:
    """The label text of a detached label or of a file with an attached label."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(1 << 20)
    except OSError as error:
        raise RasterIOError(f"Cannot read PDS3 label '{path}': {error}") from error
    text = head.decode("latin-1")
    if "PDS_VERSION_ID" not in text[:200] and "ODL_VERSION_ID" not in text[:200]:
        raise InputError(
            f"'{path}' is not a PDS3 label (no PDS_VERSION_ID at its start); give the .lbl "
            "file or an .img with an attached label."
        )
    match = re.search(r"^\s*END\s*$", text, re.MULTILINE)
    return text[: match.end()] if match else text


def parse_label(text: str) -> dict:
    """Parse ODL into nested dicts; OBJECT/GROUP blocks become dicts (lists if repeated)."""
    text = _COMMENT.sub(" ", text)
    statements = _statements(text)
    root: dict = {}
    stack = [root]
    for key, value in statements:
        upper = key.upper()
        if upper in ("OBJECT", "GROUP"):
            child: dict = {}
            _put(stack[-1], str(value).upper(), child)
            stack.append(child)
        elif upper in ("END_OBJECT", "END_GROUP"):
            if len(stack) > 1:
                stack.pop()
        elif upper == "END":
            break
        else:
            _put(stack[-1], key.upper(), _value(value))
    return root


def _put(node: dict, key: str, value) -> None:
    if key not in node:
        node[key] = value
        return
    existing = node[key]
    repeated = (
        isinstance(existing, list) and existing and all(isinstance(e, dict) for e in existing)
    )
    if isinstance(value, dict) and repeated:
        existing.append(value)
    else:
        node[key] = [existing, value]


def _statements(text: str) -> list[tuple[str, str]]:
    """Split into (key, raw value) pairs; values may span lines (quotes, brackets)."""
    out: list[tuple[str, str]] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i].strip()
        i += 1
        if not line:
            continue
        if line.upper() == "END":
            out.append(("END", ""))
            break
        if "=" not in line:
            if re.fullmatch(r"END_(OBJECT|GROUP)", line, re.IGNORECASE):
                out.append((line, ""))
            continue
        key, value = line.split("=", 1)
        value = value.strip()
        while i < len(lines) and not _balanced(value):
            value += "\n" + lines[i].strip()
            i += 1
        out.append((key.strip(), value))
    return out


def _balanced(value: str) -> bool:
    if value.count('"') % 2:
        return False
    stripped = re.sub(r'"[^"]*"', "", value)
    return stripped.count("(") <= stripped.count(")") and stripped.count("{") <= stripped.count("}")


def _value(raw: str):
    raw = raw.strip()
    unit = _UNIT.search(raw)
    if unit and not raw.startswith(("(", "{", '"')):
        return Quantity(_scalar(raw[: unit.start()].strip()), unit.group(1).strip())
    if raw.startswith(("(", "{")) and raw.endswith((")", "}")):
        inner = raw[1:-1]
        items = re.findall(r'"[^"]*"|[^,]+', inner)
        return [_value(item) for item in items if item.strip()]
    return _scalar(raw)


def _scalar(raw: str):
    raw = raw.strip()
    if raw.startswith('"') and raw.endswith('"') and len(raw) >= 2:
        return " ".join(raw[1:-1].split())
    if raw.startswith("'") and raw.endswith("'"):
        return raw[1:-1]
    based = re.fullmatch(r"(\d+)#([0-9A-Fa-f]+)#", raw)
    if based:
        return int(based.group(2), int(based.group(1)))
    try:
        return int(raw)
    except ValueError:
        pass
    try:
        return float(raw)
    except ValueError:
        return raw


def number(value, default=None) -> float | None:
    """A label value as a float (units dropped); ``default`` when absent or not numeric."""
    if isinstance(value, Quantity):
        value = value.value
    if isinstance(value, (int, float)):
        return float(value)
    return default


def find_object(label: dict, name: str) -> dict | None:
    """The first OBJECT called ``name`` anywhere in the label (CRISM nests IMAGE in FILE)."""
    for key, value in label.items():
        candidates = value if isinstance(value, list) else [value]
        for candidate in candidates:
            if not isinstance(candidate, dict):
                continue
            if key == name:
                return candidate
            found = find_object(candidate, name)
            if found is not None:
                return found
    return None


def find_key(label: dict, key: str):
    """The first value of ``key`` anywhere in the label (pointers live inside FILE objects)."""
    if key in label:
        return label[key]
    for value in label.values():
        for candidate in value if isinstance(value, list) else [value]:
            if isinstance(candidate, dict):
                found = find_key(candidate, key)
                if found is not None:
                    return found
    return None
