"""Hostile REFI-QDA files are refused with a clear error, and nothing is written outside the target."""

from __future__ import annotations

import struct
import zipfile
from pathlib import Path

import pytest

from groundcoder.cli import main
from groundcoder.errors import InputError
from groundcoder.qdpx import SafeArchive, UnsafeFileError, import_file, safe_extract

MINIMAL = '<Project xmlns="urn:QDA-XML:project:1.0" name="p"/>'

BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE Project [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol9 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<Project xmlns="urn:QDA-XML:project:1.0" name="&lol9;"/>"""


def xxe(target: Path, root: str = "Project", ns: str = "urn:QDA-XML:project:1.0") -> str:
    return f"""<?xml version="1.0"?>
<!DOCTYPE {root} [<!ENTITY secret SYSTEM "file://{target}">]>
<{root} xmlns="{ns}" name="&secret;"><Description>&secret;</Description></{root}>"""


def qdpx(path: Path, members: dict[str, bytes | str]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            info = zipfile.ZipInfo(name)
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, data.encode("utf-8") if isinstance(data, str) else data)
    return path


@pytest.fixture
def secret(tmp_path: Path) -> Path:
    path = tmp_path / "secret.txt"
    path.write_text("TOP-SECRET-VALUE", encoding="utf-8")
    return path


def test_billion_laughs_in_a_qdpx_is_refused(tmp_path):
    path = qdpx(tmp_path / "laughs.qdpx", {"project.qde": BILLION_LAUGHS})
    with pytest.raises(UnsafeFileError) as caught:
        import_file(path)
    message = str(caught.value)
    assert str(path) in message and "DOCTYPE" in message and "billion laughs" in message


def test_billion_laughs_in_a_qdc_is_refused(tmp_path):
    path = tmp_path / "laughs.qdc"
    path.write_text(BILLION_LAUGHS.replace("Project", "CodeBook").replace("project", "codebook"), encoding="utf-8")
    with pytest.raises(InputError) as caught:
        import_file(path)
    assert "DOCTYPE" in str(caught.value) and str(path) in str(caught.value)


def test_xxe_to_a_local_file_is_refused_and_the_file_not_read(tmp_path, secret, capsys):
    path = qdpx(tmp_path / "xxe.qdpx", {"project.qde": xxe(secret)})
    with pytest.raises(UnsafeFileError) as caught:
        import_file(path)
    assert "XXE" in str(caught.value)
    assert "TOP-SECRET" not in str(caught.value)
    qdc = tmp_path / "xxe.qdc"
    qdc.write_text(xxe(secret, "CodeBook", "urn:QDA-XML:codebook:1.0"), encoding="utf-8")
    with pytest.raises(InputError):
        import_file(qdc)
    # through the command line: one clear line, exit status 2, no traceback, no summary written
    with pytest.raises(SystemExit) as exit_:
        main(["qdpx", "import", str(path), "--out", str(tmp_path / "q.jsonl")])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "Traceback" not in err and "TOP-SECRET" not in err
    assert not (tmp_path / "q.jsonl").exists() and not (tmp_path / "xxe.import.json").exists()


@pytest.mark.parametrize(
    "name",
    ["../evil.txt", "sources/../../evil.txt", "..\\evil.txt", "/tmp/groundcoder-evil-abs.txt", "C:/evil.txt", "\\\\server\\share\\evil.txt"],
)
def test_zip_slip_and_absolute_members_are_refused_and_nothing_is_written(tmp_path, name):
    path = qdpx(tmp_path / "slip.qdpx", {"project.qde": MINIMAL, "sources/ok.txt": "fine", name: "pwned"})
    target = tmp_path / "nested" / "target"
    target.mkdir(parents=True)
    with pytest.raises(UnsafeFileError) as caught:
        safe_extract(path, target)
    assert repr(name) in str(caught.value) and "nothing was extracted" in str(caught.value)
    with pytest.raises(UnsafeFileError):
        import_file(path)
    assert list(target.iterdir()) == []  # refused before the first file, even the harmless one
    assert not (tmp_path / "nested" / "evil.txt").exists() and not (tmp_path / "evil.txt").exists()
    assert not Path("/tmp/groundcoder-evil-abs.txt").exists()


def test_a_source_path_that_climbs_out_is_refused(tmp_path):
    qde = """<Project xmlns="urn:QDA-XML:project:1.0" name="p"><Sources>
      <TextSource guid="00000000-0000-4000-8000-000000000001" name="s" plainTextPath="internal://../../etc/passwd"/>
    </Sources></Project>"""
    with pytest.raises(UnsafeFileError) as caught:
        import_file(qdpx(tmp_path / "p.qdpx", {"project.qde": qde}))
    assert "'s'" in str(caught.value) and ".." in str(caught.value)


def test_an_archive_over_the_size_limit_is_refused_before_decompressing(tmp_path):
    path = qdpx(tmp_path / "big.qdpx", {"project.qde": MINIMAL, "sources/zeros.txt": b"0" * 3_000_000})
    assert path.stat().st_size < 100_000  # highly compressible: a small file that expands
    with pytest.raises(UnsafeFileError) as caught:
        import_file(path, max_total_bytes=1_000_000)
    assert "zip bomb" in str(caught.value) and "--max-size" in str(caught.value)
    assert import_file(path, max_total_bytes=10_000_000).name == "p"  # under a higher limit it reads


def _declare_size(path: Path, member: str, size: int) -> None:
    """Rewrite the uncompressed size the archive declares for ``member`` (local and central headers)."""
    data = bytearray(path.read_bytes())
    name = member.encode()
    local = data.find(b"PK\x03\x04")
    while local != -1:
        name_len = struct.unpack_from("<H", data, local + 26)[0]
        if data[local + 30 : local + 30 + name_len] == name:
            struct.pack_into("<I", data, local + 22, size)
        local = data.find(b"PK\x03\x04", local + 4)
    central = data.find(b"PK\x01\x02")
    while central != -1:
        name_len = struct.unpack_from("<H", data, central + 28)[0]
        if data[central + 46 : central + 46 + name_len] == name:
            struct.pack_into("<I", data, central + 24, size)
        central = data.find(b"PK\x01\x02", central + 4)
    path.write_bytes(bytes(data))


def test_a_declared_uncompressed_size_over_the_limit_is_refused(tmp_path):
    path = qdpx(tmp_path / "bomb.qdpx", {"project.qde": MINIMAL, "sources/a.txt": "small"})
    _declare_size(path, "sources/a.txt", 0xFFFFFFF0)  # claims ~4 GiB
    with pytest.raises(UnsafeFileError) as caught:
        import_file(path)  # default limit, 2 GiB
    assert "zip bomb" in str(caught.value)


def test_a_member_holding_more_than_it_declares_is_refused(tmp_path):
    path = qdpx(tmp_path / "liar.qdpx", {"project.qde": MINIMAL, "sources/a.txt": "x" * 5000})
    _declare_size(path, "sources/a.txt", 10)
    with SafeArchive(path) as archive:
        with pytest.raises(InputError) as caught:
            archive.read(archive.find("sources/a.txt"))
    assert "sources/a.txt" in str(caught.value)


def test_symlink_members_are_refused(tmp_path):
    path = tmp_path / "link.qdpx"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("project.qde", MINIMAL)
        info = zipfile.ZipInfo("sources/link.txt")
        info.create_system = 3
        info.external_attr = (0o120777 << 16)
        zf.writestr(info, "/etc/passwd")
    with pytest.raises(UnsafeFileError) as caught:
        safe_extract(path, tmp_path / "out")
    assert "symbolic link" in str(caught.value)


def test_not_a_zip_and_no_qde_are_clear_errors(tmp_path):
    bad = tmp_path / "bad.qdpx"
    bad.write_text("not a zip", encoding="utf-8")
    with pytest.raises(InputError, match="is not a .qdpx"):
        import_file(bad)
    empty = qdpx(tmp_path / "empty.qdpx", {"sources/a.txt": "x"})
    with pytest.raises(InputError, match="has no .qde project file"):
        import_file(empty)


def test_safe_extract_writes_a_clean_archive_below_its_target(tmp_path):
    path = qdpx(tmp_path / "ok.qdpx", {"project.qde": MINIMAL, "Sources/A.TXT": "文本"})
    written = safe_extract(path, tmp_path / "target")
    assert sorted(p.relative_to(tmp_path / "target").as_posix() for p in written) == ["Sources/A.TXT", "project.qde"]
    assert (tmp_path / "target" / "Sources" / "A.TXT").read_text(encoding="utf-8") == "文本"
