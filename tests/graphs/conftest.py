"""Fixtures for the graph tests (helpers live in graph_helpers.py)."""
import pytest

from graph_helpers import tu_files, write_tu


@pytest.fixture
def toy_root(tmp_path):
    return write_tu(tmp_path, tu_files())
