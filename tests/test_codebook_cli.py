"""`groundcoder codebook validate | export | import`."""

from __future__ import annotations

import pytest

from groundcoder.cli import main
from groundcoder.codebook import Codebook
from groundcoder.paths import default_codebook_path


def test_validate_the_default_codebook(capsys):
    main(["codebook", "validate", str(default_codebook_path())])
    out = capsys.readouterr().out
    assert out.startswith("ok: ")
    assert "85 concepts in 18 initial categories in 6 main categories" in out
    assert Codebook.default().hash[:12] in out


def test_validate_lists_every_problem_and_exits_2(tmp_path, capsys):
    path = tmp_path / "bad.yaml"
    path.write_text(
        "main_categories:\n  M:\n    initial_categories:\n      I: [c1, c1]\n      J: []\nroles:\n  r: [M, X]\n",
        encoding="utf-8",
    )
    with pytest.raises(SystemExit) as caught:
        main(["codebook", "validate", str(path)])
    assert caught.value.code == 2
    err = capsys.readouterr().err
    assert "3 problems" in err
    for line in (4, 5, 7):
        assert f"{path}:{line}: " in err
    assert "Traceback" not in err


def test_export_qdc_then_import_gives_back_the_same_codebook(tmp_path, capsys):
    qdc = tmp_path / "out" / "codebook.qdc"
    main(["codebook", "export", str(default_codebook_path()), "--to", str(qdc)])
    assert qdc.is_file()
    back = tmp_path / "back.yaml"
    main(["codebook", "import", str(qdc), "--to", str(back)])
    assert Codebook.load(back) == Codebook.default()
    assert Codebook.load(back).hash == Codebook.default().hash
    xlsx = tmp_path / "codebook.xlsx"
    main(["codebook", "export", str(back), "--to", str(xlsx)])
    assert xlsx.stat().st_size > 0
    assert "wrote" in capsys.readouterr().out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["back.yaml", "codebook.xlsx", "out"]  # no temp files left


def test_import_refuses_a_non_yaml_target(tmp_path, capsys):
    qdc = tmp_path / "codebook.qdc"
    qdc.write_bytes(Codebook.default().to_qdc())
    with pytest.raises(SystemExit) as caught:
        main(["codebook", "import", str(qdc), "--to", str(tmp_path / "codebook.xlsx")])
    assert caught.value.code == 2
    assert "YAML" in capsys.readouterr().err
    assert not (tmp_path / "codebook.xlsx").exists()
