"""Safe extraction of dataset archives: members that could write outside the extraction
folder, links, special files, corrupt and oversized archives are refused whole, before
anything is written; nothing is left behind either way."""

from __future__ import annotations

import io
import re
import shutil
import stat
import tarfile
import zipfile
from collections import namedtuple
from pathlib import Path

import pytest

from harness.errors import DataError
from harness.io import archives
from harness.io.archives import extracted, is_archive


def tar_with(path: Path, *members: tarfile.TarInfo, payload: bytes = b"x") -> Path:
    with tarfile.open(path, "w") as tf:
        ok = tarfile.TarInfo("data/clip.pkl")
        ok.size = len(payload)
        tf.addfile(ok, io.BytesIO(payload))
        for m in members:
            tf.addfile(m, io.BytesIO(payload) if m.isfile() else None)
    return path


def member(name: str, kind: bytes = tarfile.REGTYPE, link: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, link
    info.size = 1 if kind == tarfile.REGTYPE else 0
    return info


def nothing_left(folder: Path) -> bool:
    return not any(p.name.startswith(".extract-") for p in folder.iterdir())


@pytest.mark.parametrize(("bad", "why"), [
    (member("/etc/passwd-copy"), "an absolute path"),
    (member("data/../../escape.pkl"), "a '..' component"),
    (member("data/link", tarfile.SYMTYPE, "/etc/passwd"), "a link (to '/etc/passwd')"),
    (member("data/hard", tarfile.LNKTYPE, "../../x"), "a link"),
    (member("data/fifo", tarfile.FIFOTYPE), "a device, FIFO or other special file"),
    (member("data/dev", tarfile.CHRTYPE), "a device, FIFO or other special file"),
])
def test_tar_members_that_could_escape_are_refused_whole(tmp_path, bad, why):
    archive = tar_with(tmp_path / "release.tar", bad)
    dest = tmp_path / "data"
    expected = re.escape(f"member '{bad.name}' has {why}") + ".*refusing the whole archive"
    with pytest.raises(DataError, match=expected) as err, extracted(archive, dest):
        pass
    assert "\n" not in str(err.value)
    assert nothing_left(dest) and not (tmp_path / "escape.pkl").exists()


@pytest.mark.parametrize("name", ["../escape.pkl", "/abs.pkl", "C:/windows.pkl",
                                  "data\\..\\..\\escape.pkl"])
def test_zip_members_that_could_escape_are_refused_whole(tmp_path, name):
    archive = tmp_path / "release.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("data/clip.pkl", b"x")
        zf.writestr(zipfile.ZipInfo(name), b"y")  # ZipInfo keeps the name as given
    with pytest.raises(DataError, match="refusing the whole archive"), \
            extracted(archive, tmp_path / "data"):
        pass
    assert nothing_left(tmp_path / "data")


def test_zip_symlinks_are_refused(tmp_path):
    archive = tmp_path / "release.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        link = zipfile.ZipInfo("data/link")
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(link, "/etc/passwd")
    with pytest.raises(DataError, match="member 'data/link' has a symbolic link"), \
            extracted(archive, tmp_path / "data"):
        pass


def test_a_tar_holding_a_zip_is_read_as_a_tar(tmp_path):
    """zipfile.is_zipfile says yes to a tar whose last member is a zip: the suffix decides,
    so the tar's own members are the ones checked."""
    inner = tmp_path / "labels.zip"
    with zipfile.ZipFile(inner, "w") as zf:
        zf.writestr("labels/ok.json", "{}")
    archive = tmp_path / "release.tar"
    with tarfile.open(archive, "w") as tf:
        tf.add(inner, arcname="../labels.zip")
    with pytest.raises(DataError, match=re.escape("member '../labels.zip' has a '..' component")), \
            extracted(archive, tmp_path / "data"):
        pass


@pytest.mark.parametrize("suffix", [".tar.gz", ".zip"])
def test_plain_archives_extract_and_leave_nothing_behind(tmp_path, suffix):
    src = tmp_path / "src" / "WLASL" / "poses"
    (src / "train").mkdir(parents=True)
    (src / "train" / "a.pkl").write_bytes(b"a")
    (src / "test.pkl").write_bytes(b"b")
    base = str(tmp_path / "release")
    archive = Path(shutil.make_archive(base, "gztar" if suffix == ".tar.gz" else "zip",
                                       tmp_path / "src"))
    assert is_archive(archive) and not is_archive(src)
    dest = tmp_path / "data"
    with extracted(archive, dest) as ex:
        assert ex.path.name == "poses"  # the single top folder, followed down
        assert (ex.path / "train" / "a.pkl").read_bytes() == b"a"
        inside = str(ex.path / "train" / "a.pkl")
        assert ex.shown(inside) == f"{archive}!WLASL/poses/train/a.pkl"
        assert ex.shown("/elsewhere/x.pkl") == "/elsewhere/x.pkl"
    assert nothing_left(dest)
    with pytest.raises(RuntimeError), extracted(archive, dest):  # removed on errors too
        raise RuntimeError("boom")
    assert nothing_left(dest)


def test_corrupt_empty_and_oversized_archives_are_one_line_errors(tmp_path, monkeypatch):
    dest = tmp_path / "data"
    corrupt = tmp_path / "cut.tar.gz"
    good = tar_with(tmp_path / "good.tar", payload=b"x" * 10_000)
    corrupt.write_bytes(good.read_bytes()[:3000])
    with pytest.raises(DataError, match=r"cut\.tar\.gz is not a readable tar or zip archive"), \
            extracted(corrupt, dest):
        pass
    empty = tmp_path / "empty.zip"
    zipfile.ZipFile(empty, "w").close()
    with pytest.raises(DataError, match=r"empty\.zip is an empty archive"), \
            extracted(empty, dest):
        pass
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(archives.shutil, "disk_usage", lambda _: usage(10**6, 10**6, 5_000))
    with pytest.raises(DataError, match=r"good.tar needs 0.0 GB to extract and .* has 0.0 GB "
                                        "free"), extracted(good, dest):
        pass
    assert nothing_left(dest)
