"""The example notebook runs from top to bottom, so it never goes stale, and runs on its own when
copied anywhere (it imports nothing beside nof1, pandas, numpy and matplotlib)."""

from __future__ import annotations

import ast
import importlib.util
import shutil
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def _imported_modules(source: str) -> set[str]:
    modules = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            modules |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            modules.add((node.module or "").split(".")[0])
    return modules


def test_example_notebook_imports_only_nof1_and_its_dependencies():
    nbformat = pytest.importorskip("nbformat")
    notebook = nbformat.read(EXAMPLES / "notebook.ipynb", as_version=4)
    code = "\n".join(c.source for c in notebook.cells if c.cell_type == "code")
    assert _imported_modules(code) <= {"nof1", "pandas", "numpy", "matplotlib"}


def test_example_notebook_makes_the_same_export_as_make_ema():
    # the notebook carries its own copy of the seeded app export; it must stay the one that
    # examples/make_ema.py writes and tests/test_real_world_diaries.py checks
    nbformat = pytest.importorskip("nbformat")
    notebook = nbformat.read(EXAMPLES / "notebook.ipynb", as_version=4)
    spec = importlib.util.spec_from_file_location("make_ema", EXAMPLES / "make_ema.py")
    make_ema = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make_ema)
    namespace: dict = {}
    for cell in notebook.cells:
        if cell.cell_type == "code":
            exec(cell.source, namespace)  # our own notebook's cells, up to the export
            if "frame" in namespace:
                break
    assert namespace["PROTOCOL"] == make_ema.ema_protocol_text()
    assert namespace["frame"].equals(make_ema.ema_frame())


@pytest.mark.parametrize("where", ["examples", "a copy elsewhere"])
def test_example_notebook_runs(where, tmp_path):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    folder = EXAMPLES
    if where != "examples":  # alone in an empty folder, as a user who downloaded it has it
        folder = tmp_path
        shutil.copy(EXAMPLES / "notebook.ipynb", folder / "notebook.ipynb")
    notebook = nbformat.read(folder / "notebook.ipynb", as_version=4)
    client = nbclient.NotebookClient(
        notebook, timeout=120, kernel_name="python3", resources={"metadata": {"path": folder}}
    )
    client.execute()
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    text = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert "Adherence: per protocol the effect is" in text
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(images) == 2
    shown = "".join(o.get("data", {}).get("text/plain", "") for o in outputs)
    assert "nof1 analysis of EMA-MEL-001 (patient P-014)" in shown  # result.summary(), laid out
