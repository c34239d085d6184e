"""Output safety: the one way marsspec writes a file a user will see.

Users have lost data to tools that wrote over their inputs, left half-written rasters after a
crash, or reported success after a full disk truncated the result. Every job therefore writes
through an :class:`OutputSet`:

1. **Before any work** it resolves every output path and refuses (one line, nothing touched) an
   output that is the same file as an input or as another output (real paths and inodes), a
   folder that does not exist or cannot be written, a path that is a folder, and an extension
   that does not name the format written.
2. **While the job runs** each output is written to a hidden temporary sibling
   (``.<stem>.marsspec-tmp-<token><suffix>``, same folder, so the final rename is atomic).
   Rasters are created only through :func:`create_raster`, which refuses a path that is not a
   live temporary of an output set and turns every GDAL error signalled while writing (a short
   write on a full disk is only *logged* by GDAL) into a :class:`RasterIOError`.
3. **Only when every output is complete** the files are flushed to disk (``fsync``) and renamed
   into place together; a pre-existing file at an output path is kept as a hard-link backup
   until all renames succeeded, so a failure half-way through the publish restores it.
4. **On any failure** (an exception, cancel, Ctrl-C, SIGTERM turned into an exception by the
   command line) every temporary file is removed and every pre-existing file is left as it was.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import shutil
import signal
import threading
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from marsspec.core.errors import InputError, RasterIOError

TMP_TAG = ".marsspec-tmp-"
BACKUP_TAG = ".marsspec-backup-"

# The file formats marsspec writes, by the extensions that name them.
FORMATS: dict[str, tuple[str, ...]] = {
    "raster": (".tif", ".tiff"),
    "mosaic": (".vrt",),  # a GDAL VRT over block GeoTIFFs (core/scaleout)
    "vector": (".gpkg",),
    "json": (".json",),
    "weights": (".safetensors",),
    "checkpoint": (".pt",),
    "text": (".csv", ".txt", ".md", ".yaml"),
    "any": (),
}
FORMAT_NAMES = {
    "raster": "a GeoTIFF",
    "mosaic": "a GDAL VRT mosaic",
    "vector": "a GeoPackage",
    "json": "a JSON file",
    "weights": "a safetensors weights file",
    "checkpoint": "a PyTorch checkpoint",
    "text": "a text file",
}

_live_lock = threading.Lock()
_live_temps: set[Path] = set()
_captures: dict[Path, _GdalErrorCapture] = {}


@dataclass(frozen=True)
class _Staged:
    """One output: where it goes, and the hidden name it is written under meanwhile."""

    key: str
    final: Path
    prefix: str  # every file of this output's family starts with it (GDAL adds sidecars)

    @property
    def temp(self) -> Path:
        return self.final.with_name(self.prefix + self.final.suffix)

    def family(self) -> list[Path]:
        # a prefix test, not a glob: user file names may contain glob characters such as "["
        folder = self.final.parent
        return sorted(p for p in folder.iterdir() if p.name.startswith(self.prefix))

    def final_name(self, member: Path) -> Path:
        # ".x.marsspec-tmp-ab12.tif.aux.xml" -> "x.tif.aux.xml"; "...-ab12.hdr" -> "x.hdr"
        return self.final.with_name(self.final.stem + member.name[len(self.prefix) :])


def same_file(a: str | os.PathLike[str], b: str | os.PathLike[str]) -> bool:
    """True when two paths name one file: the same inode, or the same real path if either is
    missing (so a symbolic or hard link to an input is caught, not only an equal string)."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.realpath(a) == os.path.realpath(b)


def _label(key: str) -> str:
    return key.replace("_", " ")


def check_output_path(
    key: str, path: str | os.PathLike[str], kind: str = "raster", *, overwrite: bool = True
) -> Path:
    """The absolute output path, or an InputError that names the problem and the fix."""
    text = os.fspath(path)
    if not text.strip():
        raise InputError(f"{_label(key)}: the output path is empty; give a file name.")
    final = Path(os.path.abspath(os.path.expanduser(text)))
    if final.is_dir() or text.endswith(os.sep):
        raise InputError(
            f"{_label(key)} {text!r} is a folder; give a file name inside it "
            f"(e.g. {str(final / ('output' + (FORMATS.get(kind) or ('',))[0]))!r})."
        )
    suffixes = FORMATS[kind]
    if suffixes and final.suffix.lower() not in suffixes:
        have = f"extension {final.suffix!r}" if final.suffix else "no extension"
        raise InputError(
            f"{_label(key)} {final.name!r} has {have}, but marsspec writes "
            f"{FORMAT_NAMES[kind]} there; name it "
            f"{final.with_suffix(suffixes[0]).name!r} (extensions: {', '.join(suffixes)})."
        )
    folder = final.parent
    if not folder.is_dir():
        raise InputError(
            f"Output folder {str(folder)!r} (for {_label(key)}) does not exist; create it or "
            "choose another output path."
        )
    if not os.access(folder, os.W_OK | os.X_OK):
        raise InputError(
            f"Output folder {str(folder)!r} (for {_label(key)}) is not writable; choose a "
            "folder you can write to."
        )
    if final.exists() and not final.is_file():
        raise InputError(f"{_label(key)} {text!r} exists and is not a file; choose another name.")
    if final.exists() and not overwrite:
        raise InputError(
            f"{_label(key)} {text!r} exists; delete it, choose another name, or allow replacing it."
        )
    return final


class OutputSet:
    """All the files one job writes, checked up front and published together.

    ``outputs`` maps a name the user knows (``"OUTPUT"``, ``"BROWSE"``) to a path or None
    (not requested); ``kinds`` gives each output's format (one kind for all, or per name);
    ``inputs`` are every file the job reads (None entries are ignored). Construction checks
    everything and touches nothing; the ``with`` block stages the outputs; a clean exit
    publishes them all, an exception removes every temporary file.
    """

    def __init__(
        self,
        outputs: Mapping[str, str | os.PathLike[str] | None],
        *,
        inputs: Iterable[str | os.PathLike[str] | None] = (),
        kinds: str | Mapping[str, str] = "raster",
        overwrite: bool = True,
    ) -> None:
        requested = {k: v for k, v in outputs.items() if v is not None and os.fspath(v) != ""}
        if not requested:
            raise InputError("No output given; name at least one output file.")
        finals: dict[str, Path] = {}
        for key, path in requested.items():
            kind = kinds if isinstance(kinds, str) else kinds.get(key, "raster")
            finals[key] = check_output_path(key, path, kind, overwrite=overwrite)
        given_inputs = [Path(os.fspath(p)) for p in inputs if p is not None and os.fspath(p)]
        for key, final in finals.items():
            for source in given_inputs:
                if same_file(final, source):
                    raise InputError(
                        f"{_label(key)} {str(final)!r} is the input {source.name}; writing it "
                        "would destroy the input. Choose another output path."
                    )
        keys = list(finals)
        for i, first in enumerate(keys):
            for second in keys[i + 1 :]:
                if same_file(finals[first], finals[second]):
                    raise InputError(
                        f"{_label(first)} and {_label(second)} are the same file "
                        f"{str(finals[first])!r}; give each output its own path."
                    )
        self.finals = finals
        self._staged: dict[str, _Staged] = {}
        self.published = False

    # ---- inside the block -----------------------------------------------------------------
    def __enter__(self) -> OutputSet:
        for key, final in self.finals.items():
            # one token per output: two outputs with one stem (x.safetensors and x.md) must
            # not see each other's temporary file as a sidecar of their own
            token = secrets.token_hex(6)
            staged = _Staged(key, final, f".{final.stem}{TMP_TAG}{token}")
            self._staged[key] = staged
            with _live_lock:
                _live_temps.add(staged.temp)
        return self

    def temp(self, key: str) -> Path:
        """Where to write output ``key`` now (only inside the ``with`` block)."""
        try:
            return self._staged[key].temp
        except KeyError:
            raise KeyError(f"no staged output {key!r}; staged: {list(self._staged)}") from None

    def temp_for(self, path: str | os.PathLike[str]) -> Path:
        """The temporary file of the output whose final path is ``path``."""
        wanted = Path(os.path.abspath(os.fspath(path)))
        for staged in self._staged.values():
            if staged.final == wanted:
                return staged.temp
        raise KeyError(f"{str(wanted)!r} is not an output of this set")

    def __contains__(self, key: object) -> bool:
        return key in self.finals

    def require_space(self, nbytes: int, what: str, *, at_least: int | None = None) -> None:
        """Refuse before writing when the output folder cannot hold ``at_least`` bytes.

        ``nbytes`` is the expected size (uncompressed, for a compressed raster an upper
        bound); ``at_least`` the smallest it can plausibly be (defaults to ``nbytes``).
        """
        folders = {final.parent for final in self.finals.values()}
        need = nbytes if at_least is None else at_least
        for folder in folders:
            free = shutil.disk_usage(folder).free
            if free < need:
                raise InputError(
                    f"Not enough free space in {str(folder)!r} for {what}: about "
                    f"{_size(need)} needed, {_size(free)} free. Free some space or choose "
                    "another output folder."
                )
            if free < nbytes:
                logging.getLogger("marsspec.io").warning(
                    "%s may need up to %s in %s, where %s is free; the run stops cleanly "
                    "if the disk fills.",
                    what,
                    _size(nbytes),
                    folder,
                    _size(free),
                )

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            if exc_type is None:
                self._publish()
            else:
                self._discard()
        finally:
            with _live_lock:
                for staged in self._staged.values():
                    _live_temps.discard(staged.temp)

    def _discard(self) -> None:
        """Remove every temporary file; never raises (it runs while handling errors)."""
        for staged in self._staged.values():
            with contextlib.suppress(OSError):
                for member in staged.family():
                    with contextlib.suppress(OSError):
                        member.unlink()

    def _publish(self) -> None:
        try:
            for staged in self._staged.values():
                if staged.temp not in staged.family():
                    raise RasterIOError(
                        f"The writer produced no file for {_label(staged.key)} "
                        f"{str(staged.final)!r}; check the disk space and the folder's "
                        "permissions."
                    )
                for member in staged.family():
                    _fsync(member)
        except BaseException:
            self._discard()
            raise
        with _signals_blocked():
            self._rename_all()
        self.published = True

    def _rename_all(self) -> None:
        """Rename every family member into place; on failure undo, restoring backups."""
        moves: list[tuple[Path, Path]] = [
            (member, staged.final_name(member))
            for staged in self._staged.values()
            for member in staged.family()
        ]
        backups: dict[Path, Path] = {}
        done: list[Path] = []
        try:
            for _member, target in moves:
                if target.exists():
                    backup = target.with_name(f".{target.name}{BACKUP_TAG}{secrets.token_hex(4)}")
                    with contextlib.suppress(OSError):  # no hard links here: no backup
                        os.link(target, backup)
                        backups[target] = backup
            for member, target in moves:
                os.replace(member, target)
                done.append(target)
        except OSError as exc:
            for target in done:
                with contextlib.suppress(OSError):
                    if target in backups:
                        os.replace(backups.pop(target), target)
                    else:
                        target.unlink()
            self._discard()
            raise RasterIOError(
                f"Could not move the finished output to {str(moves[len(done)][1])!r} ({exc}); "
                "nothing was changed. Check the folder's permissions."
            ) from exc
        finally:
            for backup in backups.values():
                with contextlib.suppress(OSError):
                    backup.unlink()
        published = {target for _member, target in moves}
        for staged in self._staged.values():
            stale = staged.final.with_name(staged.final.name + ".aux.xml")
            if stale.exists() and stale not in published:  # statistics of the replaced raster
                with contextlib.suppress(OSError):
                    stale.unlink()


def _fsync(path: Path) -> None:
    """Flush a finished file to disk; a full disk can surface only here (delayed allocation)."""
    try:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as exc:
        raise RasterIOError(
            f"Could not flush {path.name} to disk ({exc.strerror or exc}); check the free space "
            f"in {str(path.parent)!r}. Nothing was replaced."
        ) from exc


@contextlib.contextmanager
def _signals_blocked() -> Iterator[None]:
    """Hold SIGINT/SIGTERM while the renames run, so an interrupt cannot publish half a set."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    wanted = {signal.SIGINT, signal.SIGTERM}
    old = signal.pthread_sigmask(signal.SIG_BLOCK, wanted)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def _size(nbytes: float) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if nbytes < 1024 or unit == "GiB":
            return f"{nbytes:.0f} {unit}" if unit == "bytes" else f"{nbytes:.1f} {unit}"
        nbytes /= 1024
    return f"{nbytes:.1f} TiB"  # pragma: no cover


def is_staged(path: str | os.PathLike[str]) -> bool:
    with _live_lock:
        return Path(os.path.abspath(os.fspath(path))) in _live_temps


def require_staged(path: str | os.PathLike[str]) -> Path:
    """``path`` as an absolute path if it is a live temporary of an output set; else a bug."""
    temp = Path(os.path.abspath(os.fspath(path)))
    if not is_staged(temp):
        raise RuntimeError(
            f"{temp} is not the temporary file of an OutputSet; write outputs through "
            "marsspec.core.io.safety (internal error, please report it)."
        )
    return temp


class _GdalErrorCapture(logging.Handler):
    """Collects the GDAL errors rasterio logs from one thread (GDAL reports a short write on a
    full disk only this way: the write call itself returns normally)."""

    def __init__(self, thread_id: int) -> None:
        super().__init__(level=logging.DEBUG)
        self.thread_id = thread_id
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.thread == self.thread_id and "signalled an error" in record.getMessage():
            self.messages.append(str(record.args[-1]) if record.args else record.getMessage())


@contextlib.contextmanager
def create_raster(path: str | os.PathLike[str], **profile) -> Iterator[object]:
    """``rasterio.open(path, "w", **profile)`` for a staged temporary file, failing loudly.

    Any GDAL error signalled while the dataset is open or being closed raises
    :class:`RasterIOError` (the output set then removes the temporary file).
    """
    import rasterio

    temp = require_staged(path)
    capture = _GdalErrorCapture(threading.get_ident())
    _captures[temp] = capture
    gdal_log = logging.getLogger("rasterio._env")
    old_level = gdal_log.level
    gdal_log.addHandler(capture)
    if gdal_log.getEffectiveLevel() > logging.INFO:
        gdal_log.setLevel(logging.INFO)
    try:
        with rasterio.Env():
            try:
                dataset = rasterio.open(temp, "w", **profile)
            except (rasterio.errors.RasterioError, OSError) as exc:
                raise RasterIOError(
                    f"Could not create {temp.name} in {str(temp.parent)!r} ({exc}); check the "
                    "folder and the free space."
                ) from exc
            with dataset:
                yield dataset
                _raise_captured(capture, temp)
            _raise_captured(capture, temp)
    finally:
        gdal_log.removeHandler(capture)
        gdal_log.setLevel(old_level)
        _captures.pop(temp, None)


def check_writes(path: str | os.PathLike[str]) -> None:
    """Raise now if GDAL signalled an error while writing ``path`` (a raster opened by
    :func:`create_raster`): a long run stops at the first failed block, not at the end."""
    capture = _captures.get(Path(os.path.abspath(os.fspath(path))))
    if capture is not None:
        _raise_captured(capture, Path(os.path.abspath(os.fspath(path))))


def _raise_captured(capture: _GdalErrorCapture, temp: Path) -> None:
    if capture.messages:
        first = capture.messages[0]
        hint = (
            "the disk is full: free some space or choose another output folder"
            if "space" in " ".join(capture.messages).lower()
            else "check the disk and the output folder"
        )
        raise RasterIOError(
            f"Writing failed in {str(temp.parent)!r} ({first}); {hint}. Nothing was replaced."
        )


@contextlib.contextmanager
def atomic_output(
    path: str | os.PathLike[str],
    *,
    kind: str = "any",
    inputs: Iterable[str | os.PathLike[str] | None] = (),
    overwrite: bool = True,
) -> Iterator[Path]:
    """One output through an :class:`OutputSet`: yields the temporary path to write."""
    with OutputSet({"output": path}, inputs=inputs, kinds=kind, overwrite=overwrite) as outputs:
        yield outputs.temp("output")
