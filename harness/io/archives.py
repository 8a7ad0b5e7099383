"""Archives of pose and label files (``prepare --source X.tar.gz``): extracted safely.

Datasets travel as tar and zip archives, often from strangers, and an archive can name
members that would land outside the folder it is extracted into (absolute paths, ``..``,
links that point elsewhere) or special files. ``extracted`` refuses such an archive whole,
before writing anything, and says which member; it also refuses an archive whose members
would not fit on the disk. Members are extracted into a fresh folder that is removed
afterwards, whatever happens.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import tarfile
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from harness.errors import DataError

SUFFIXES = (".zip", ".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz")
#: The separator between an archive's path and a member's path in recorded sources.
MEMBER_SEP = "!"


def is_archive(path: Path) -> bool:
    """Whether ``path`` is a file named like a tar or zip archive."""
    return path.is_file() and path.name.lower().endswith(SUFFIXES)


def _is_zip(path: Path) -> bool:
    """Zip by its name: ``zipfile.is_zipfile`` also says yes to a tar that holds a zip."""
    return path.name.lower().endswith(".zip")


def _unsafe_name(name: str) -> str | None:
    """Why a member name would leave the extraction folder, or None."""
    if not name or "\x00" in name:
        return "an empty or NUL-containing name"
    posix = PurePosixPath(name.replace("\\", "/"))
    if posix.is_absolute() or (len(name) > 1 and name[1] == ":"):
        return "an absolute path"
    if ".." in posix.parts:
        return "a '..' component"
    return None


def _members(archive: Path) -> list[tuple[str, int, str | None]]:
    """(name, size, why it is refused or None) of every member; a DataError when the file
    is not a readable archive."""
    out = []
    try:
        if _is_zip(archive):
            with zipfile.ZipFile(archive) as zf:
                for info in zf.infolist():
                    mode = info.external_attr >> 16
                    why = _unsafe_name(info.filename) or (
                        "a symbolic link" if stat.S_ISLNK(mode) else None)
                    out.append((info.filename, info.file_size, why))
            return out
        with tarfile.open(archive) as tf:
            for m in tf:
                why = _unsafe_name(m.name)
                if why is None and (m.issym() or m.islnk()):
                    why = f"a link (to {m.linkname!r})"
                elif why is None and not (m.isfile() or m.isdir()):
                    why = "a device, FIFO or other special file"
                out.append((m.name, m.size if m.isfile() else 0, why))
    except (tarfile.TarError, zipfile.BadZipFile, EOFError, OSError) as exc:
        raise DataError(f"{archive} is not a readable tar or zip archive "
                        f"({exc.__class__.__name__}: {exc}); check the download") from None
    return out


def _check(archive: Path, dest_parent: Path) -> None:
    """A DataError unless every member's name and kind is safe and they fit on the disk."""
    members = _members(archive)
    bad = next(((name, why) for name, _, why in members if why), None)
    if bad:
        raise DataError(f"{archive}: member {bad[0]!r} has {bad[1]}, which could write "
                        f"outside the extraction folder; refusing the whole archive (ask "
                        f"its sender for a plain archive of files and folders)")
    if not members:
        raise DataError(f"{archive} is an empty archive; check the download")
    need = sum(size for _, size, _ in members)
    free = shutil.disk_usage(dest_parent).free
    if need > free:
        raise DataError(f"{archive} needs {need / 1e9:.1f} GB to extract and {dest_parent} "
                        f"has {free / 1e9:.1f} GB free; free space or extract it yourself "
                        f"and pass the folder")


@dataclass(frozen=True)
class Extracted:
    """An archive extracted into ``root``; ``path`` is what it holds (see ``extracted``)."""

    archive: Path
    root: Path
    path: Path

    def shown(self, path: str) -> str:
        """A path under ``root`` as ``ARCHIVE!member`` (for provenance), others unchanged."""
        prefix = str(self.root) + os.sep
        if path.startswith(prefix):
            return f"{self.archive}{MEMBER_SEP}{path[len(prefix):]}"
        return path


@contextlib.contextmanager
def extracted(archive: Path, dest_parent: Path) -> Iterator[Extracted]:
    """Extract ``archive`` into a fresh folder under ``dest_parent``; its ``path`` is the
    single file or folder at the top (followed down while there is only one entry), or the
    folder itself. The folder is removed on exit, whatever happens."""
    dest_parent.mkdir(parents=True, exist_ok=True)
    _check(archive, dest_parent)
    tmp = Path(tempfile.mkdtemp(prefix=f".extract-{archive.name}-", dir=dest_parent))
    try:
        try:
            if _is_zip(archive):
                with zipfile.ZipFile(archive) as zf:
                    zf.extractall(tmp)
            else:
                with tarfile.open(archive) as tf:
                    if hasattr(tarfile, "data_filter"):  # Python 3.10.12+, 3.11.4+
                        tf.extractall(tmp, filter="data")
                    else:  # the members were checked above: files and folders only
                        tf.extractall(tmp)
        except (tarfile.TarError, zipfile.BadZipFile, EOFError) as exc:
            raise DataError(f"{archive} could not be extracted ({exc.__class__.__name__}: "
                            f"{exc}); check the download") from None
        top = tmp
        while top.is_dir():
            entries = [e for e in top.iterdir() if e.name not in ("__MACOSX", ".DS_Store")]
            if len(entries) != 1:
                break
            top = entries[0]
        yield Extracted(archive, tmp, top)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
