from __future__ import annotations

from pathlib import Path

from sealfeed.config.docs import render_markdown
from sealfeed.config.schema import SOLUTION
from sealfeed.config.spec import iter_fields

ROOT = Path(__file__).resolve().parents[2]


def test_docs_config_md_is_generated_from_the_schema() -> None:
    current = (ROOT / "docs" / "config.md").read_text()
    assert current == render_markdown(), "run: uv run sealfeed config schema > docs/config.md"


def test_every_schema_path_is_documented() -> None:
    text = render_markdown()
    for path, _node in iter_fields(SOLUTION):
        assert f"`{path}`" in text
