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
