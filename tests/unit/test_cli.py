from alsig.cli import main


def test_check_config_accepts_the_default_config(repo, capsys, monkeypatch):
    monkeypatch.chdir(repo)
    assert main(["check-config", "config/config.yaml"]) == 0
    assert "OK (1 dataset(s))" in capsys.readouterr().out


def test_check_config_names_the_bad_key(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("datasets:\n  x:\n    source: lokal\n    condition: {column: g}\n")
    assert main(["check-config", str(bad)]) == 1
    assert (
        "config key datasets.x.source: 'lokal' is not one of ['geo', 'local']"
        in capsys.readouterr().err
    )


def test_check_config_reports_missing_local_file(tmp_path, capsys):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(
        "datasets:\n  x:\n    source: local\n    counts: nope.tsv\n    samples: s.tsv\n"
        "    condition: {column: g}\n"
    )
    assert main(["check-config", str(cfg), "--workdir", str(tmp_path)]) == 1
    assert "datasets.x.counts: file 'nope.tsv' does not exist" in capsys.readouterr().err
