"""The notebooks: committed clean, parameterised, and executed top to bottom with a kernel."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))


def test_the_three_notebooks_exist() -> None:
    assert [p.name for p in NOTEBOOKS] == [
        "01-replay-history.ipynb",
        "02-tune-thresholds.ipynb",
        "03-forecast.ipynb",
    ]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_committed_without_outputs_and_with_a_parameters_cell(path: Path) -> None:
    book = nbformat.read(path, as_version=4)
    code = [c for c in book.cells if c.cell_type == "code"]
    assert "parameters" in code[0].metadata.get("tags", []), "first code cell is the parameters"
    for cell in code:
        assert cell.outputs == [] and cell.execution_count is None, "strip outputs before commit"


def execute(path: Path, cwd: Path, **parameters: object) -> nbformat.NotebookNode:
    """Run ``path`` with a kernel, injecting ``parameters`` after its parameters cell."""
    from nbclient import NotebookClient

    book = nbformat.read(path, as_version=4)
    index = next(i for i, c in enumerate(book.cells) if "parameters" in c.metadata.get("tags", []))
    injected = "\n".join(f"{name} = {value!r}" for name, value in parameters.items())
    book.cells.insert(index + 1, nbformat.v4.new_code_cell(injected))
    NotebookClient(
        book, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(cwd)}}
    ).execute()
    return book


def outputs(book: nbformat.NotebookNode) -> list[dict]:
    return [o for c in book.cells if c.cell_type == "code" for o in c.outputs]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs_on_the_bundled_data(path: Path, tmp_path: Path) -> None:
    params = {"OUT_DIR": str(tmp_path)} if path.name.startswith("02") else {}
    book = execute(path, path.parent, **params)
    found = outputs(book)
    assert not [o for o in found if o.get("output_type") == "error"]
    images = [o for o in found if "image/png" in o.get("data", {})]
    assert images, "charts are drawn"
    if path.name.startswith("02"):
        assert (tmp_path / "tuned.policy.toml").exists()


def test_replay_notebook_runs_on_the_counts_per_run_dataset(tmp_path: Path) -> None:
    path = NOTEBOOKS[0]
    book = execute(path, path.parent, HISTORY="../datasets/billing-agent-runs.csv", WINDOW=None)
    text = "".join(o.get("text", "") for o in outputs(book))
    assert "1,830 rows, 19,265 cases" in text


def test_forecast_notebook_on_a_history_that_cannot_be_forecast(tmp_path: Path) -> None:
    # The AgentDojo leaderboard: every class seen on a day or two, so nothing is
    # forecast and no backtest is possible; the notebook says so instead of failing.
    import pandas as pd

    root = NOTEBOOKS[0].parents[1]
    names = sorted(pd.read_csv(root / "datasets" / "agentdojo.csv")["action"].unique())
    policy = tmp_path / "agentdojo.policy.toml"
    policy.write_text(
        "[thresholds.supervised]\npass_rate = 0.5\nadversarial_pass_rate = 0.8\nmin_samples = 500\n"
        "[thresholds.autonomous]\npass_rate = 0.7\nadversarial_pass_rate = 0.95\n"
        "min_samples = 1000\n"
        + "".join(f'[actions."{n}"]\nrisk = "reversible_write"\n' for n in names)
    )
    path = NOTEBOOKS[2]
    book = execute(
        path,
        path.parent,
        HISTORY=str(root / "datasets" / "agentdojo.csv"),
        POLICY=str(policy),
        WINDOW=None,
        CUT="2024-07-01",
        N_SIMS=100,
    )
    found = outputs(book)
    assert not [o for o in found if o.get("output_type") == "error"]
    assert not [o for o in found if o.get("name") == "stderr" and "Warning" in o.get("text", "")]
    text = "".join(o.get("text", "") for o in found)
    assert "no backtest from this cut" in text
