"""The package's layers import downward only (import-linter contract in pyproject.toml)."""

from pathlib import Path

from importlinter import cli as importlinter_cli

ROOT = Path(__file__).resolve().parents[2]


def test_layers_contract_is_kept(monkeypatch, capsys):
    # cli -> report -> methods -> indicators -> core -> data; in-function imports count too.
    monkeypatch.chdir(ROOT)
    code = importlinter_cli.lint_imports(
        config_filename=str(ROOT / "pyproject.toml"), no_cache=True, no_logo=True
    )
    assert code == 0, capsys.readouterr().out


def test_layers_contract_declares_no_exceptions():
    # an import against the layers is fixed, not listed: methods render text from core.labels
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    for contract in config["tool"]["importlinter"]["contracts"]:
        assert not contract.get("ignore_imports"), contract["name"]
