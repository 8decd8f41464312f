"""The static leaderboard site: its files, links and data, and a real headless Chromium driving it."""

from __future__ import annotations

import json
import os
import shutil
from html.parser import HTMLParser
from pathlib import Path

import pytest

from bundle_helpers import stand_in_registry, store_system
from ser_core import bundle, export, leaderboard, site
from ser_core.results import ResultStore
from ser_core.synthetic import SyntheticConfig

CONFIGS = {
    "tiny": SyntheticConfig(speakers=4, clips_per_class=2, min_seconds=0.3, max_seconds=0.5),
    "small": SyntheticConfig(speakers=5, clips_per_class=2, seed=2, min_seconds=0.3, max_seconds=0.5),
}
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]
TIMEOUT_MS = 15_000


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """A site of 2 corpora x 3 systems: two computed here, one imported from a bundle, unverified."""
    root = tmp_path_factory.mktemp("site-data")
    registry = stand_in_registry(CONFIGS)
    paths = {name: root / name for name in CONFIGS}
    for path in paths.values():
        path.mkdir()
    with ResultStore(root / "theirs.db") as theirs:
        for corpus in CONFIGS:
            store_system(theirs, registry, corpus, "theirs", accuracy=0.7, repeats=1, root=paths[corpus],
                         model="their-model", feature="their-feature")
        data = bundle.export_bundle(theirs, registry=registry, resamples=100)
    data["results"][0]["figures"]["uar_mean"] = 0.99  # claims more than its predictions give
    data["content_hash"] = bundle.content_hash(data)
    db = root / "board.db"
    with ResultStore(db) as store:
        for corpus in CONFIGS:
            store_system(store, registry, corpus, "strong", accuracy=0.85, repeats=2, root=paths[corpus])
            store_system(store, registry, corpus, "weak", accuracy=0.4, repeats=2, root=paths[corpus])
        verification = bundle.verify_bundle(data, registry=registry, corpus_paths=paths, for_import=True)
        bundle.import_bundle(store, data, verification, allow_unverified=True, path="theirs.json")
        out = root / "site"
        result = site.build(store, out, registry=registry, resamples=100)
        board = leaderboard.compute(store, resamples=100)
    return out, result, board


class Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.links: list[tuple[str, str]] = []

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name in ("href", "src"):
                self.links.append((tag, value))


def links(path: Path) -> list[tuple[str, str]]:
    parser = Links()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser.links


def test_the_site_has_an_index_a_page_per_corpus_and_system_and_json_beside_each(built):
    out, result, board = built
    assert sorted(result.pages) == ["corpus/small.html", "corpus/tiny.html", "index.html", "system/strong.html",
                                    "system/theirs.html", "system/weak.html"]
    for page in result.pages:
        assert (out / page).is_file() and (out / page.replace(".html", ".json")).is_file()
    assert (out / "site.css").is_file() and (out / "site.js").is_file()
    index = json.loads((out / "index.json").read_text())
    assert index["format"] == "serbench-site" and index["board"]["format"] == "serbench-board"
    ours = {(e["corpus"], e["system"]): e for e in index["board"]["entries"]}
    for entry in board.entries:  # the same numbers as the board and its JSON export
        record = export.record(entry)
        mine = ours[(entry.corpus, entry.system)]
        assert (mine["uar_mean"], mine["ci"], mine["mark"], mine["verification"]) == (
            record["uar_mean"], record["ci"], record["mark"], record["verification"])
    assert {e["verification"] for e in ours.values()} == {"local", "unverified", "verified"}
    system = json.loads((out / "system" / "theirs.json").read_text())
    assert system["model_card"]["model"] == "their-model" and len(system["entries"]) == 2


def test_every_link_resolves_and_nothing_is_loaded_from_elsewhere(built):
    out, result, _ = built
    for page in result.pages:
        for tag, target in links(out / page):
            if tag == "a" and target.startswith(("http://", "https://")):
                continue  # a model card's home page is a link, never loaded
            assert not target.startswith(("http:", "https:", "//")), f"{page} loads {target}"
            assert (out / page).parent.joinpath(target.split("#")[0]).resolve().is_file(), f"{page}: {target}"


def test_unverified_results_are_told_apart(built):
    out, _, _ = built
    index = (out / "index.html").read_text()
    assert "badge unverified" in index and "badge verified" in index and "badge local" in index
    assert "imported from theirs.json" in index and "without verification" in index
    corpus = (out / "corpus" / "tiny.html").read_text()
    assert "class='bar unverified'" in corpus or "class='bar verified'" in corpus


def test_a_file_in_the_way_is_refused(tmp_path, built):
    from ser_core.errors import OutputError

    (tmp_path / "taken").write_text("x")
    with ResultStore(tmp_path / "empty.db") as store, pytest.raises(OutputError, match="is a file"):
        site.build(store, tmp_path / "taken")


def chromium() -> str:
    """The Chromium to drive, or a skip saying how to install it."""
    pytest.importorskip("playwright.sync_api", reason="the browser test needs playwright (pip install -r "
                        "requirements.txt)")
    for candidate in (os.environ.get("SERBENCH_CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium"),
                      shutil.which("chromium-browser")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    pytest.skip("no Chromium found for the browser test: install Debian's (apt-get update && apt-get install -y "
                "chromium) or set SERBENCH_CHROMIUM to a Chromium executable")


@pytest.fixture
def browser_page(tmp_path):
    executable = chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "profile"), executable_path=executable, headless=True, args=CHROMIUM_FLAGS,
            timeout=60_000)
        try:
            context.set_default_timeout(TIMEOUT_MS)
            context.set_default_navigation_timeout(TIMEOUT_MS)
            page = context.new_page()
            errors: list[str] = []
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("requestfailed", lambda r: errors.append(f"request failed: {r.url}"))
            yield page, errors
        finally:
            context.close()


def uars(page) -> list[float]:
    return [float(v) for v in page.eval_on_selector_all(
        "#results tbody tr:not(.hidden) td:nth-child(6)", "cells => cells.map(c => c.dataset.sort)")]


def test_in_chromium_the_index_sorts_filters_and_every_link_resolves(built, browser_page):
    out, _, board = built
    page, errors = browser_page
    page.goto((out / "index.html").as_uri())
    page.wait_for_selector("#results tbody tr")
    assert errors == []
    assert page.inner_text(".shown") == f"{len(board.entries)} of {len(board.entries)} results shown"
    header = page.locator("#results thead th", has_text="UAR %")
    header.click()
    first = uars(page)
    assert first == sorted(first, reverse=True) and first != [float(e.uar_mean) for e in board.entries]
    assert header.get_attribute("aria-sort") == "descending"
    header.click()
    assert uars(page) == sorted(first)
    page.select_option("select[data-filter='corpus']", "tiny")
    visible = page.eval_on_selector_all("#results tbody tr:not(.hidden)", "rows => rows.map(r => r.dataset.corpus)")
    assert visible and set(visible) == {"tiny"}
    assert page.inner_text(".shown") == f"{len(visible)} of {len(board.entries)} results shown"
    page.select_option("select[data-filter='corpus']", "")
    page.select_option("select[data-filter='verification']", "unverified")
    assert len(uars(page)) == 1  # theirs, on the corpus where its bundle's figures were edited
    page.select_option("select[data-filter='verification']", "")
    assert len(uars(page)) == len(board.entries)
    targets = sorted(set(page.eval_on_selector_all(
        "a[href^='corpus/'], a[href^='system/']", "links => links.map(a => a.href)")))
    assert len(targets) == 5
    for target in targets:
        page.goto(target)
        assert page.locator("h1").inner_text().endswith("serbench leaderboard"), target
        page.locator("table.sortable thead th").first.click()  # the script runs on every page
    assert errors == []


def test_the_committed_emodb_site_matches_its_database(tmp_path):
    """docs/results/site/ is rebuilt whenever docs/results/emodb.db or the board's statistics change (the
    command is in docs/submitting-results.md)."""
    docs = Path(__file__).resolve().parents[1] / "docs" / "results"
    with ResultStore(docs / "emodb.db", readonly=True) as store:
        site.build(store, tmp_path / "site", reference=leaderboard.load_reference(
            docs.parent / "reference" / "keesing2020-table3.csv"))

    def figures(path):
        entries = json.loads(path.read_text())["board"]["entries"]
        return {(e["corpus"], e["system"]): (e["uar_mean"], e["ci"], e["mark"], e["verification"]) for e in entries}

    assert figures(docs / "site" / "index.json") == figures(tmp_path / "site" / "index.json")
    committed = sorted(str(p.relative_to(docs / "site")) for p in (docs / "site").rglob("*.html"))
    assert committed == sorted(str(p.relative_to(tmp_path / "site")) for p in (tmp_path / "site").rglob("*.html"))


def test_the_board_build_command(tmp_path):
    from typer.testing import CliRunner

    from ser_core.cli import app

    db = Path(__file__).resolve().parents[1] / "docs" / "results" / "emodb.db"
    runner = CliRunner()
    result = runner.invoke(app, ["board", "build", "--db", str(db), "-o", str(tmp_path / "site"), "--resamples", "100"])
    assert result.exit_code == 0, result.output
    assert "wrote 9 pages" in result.output and (tmp_path / "site" / "index.html").is_file()
    (tmp_path / "file").write_text("x")
    result = runner.invoke(app, ["board", "build", "--db", str(db), "-o", str(tmp_path / "file")])
    assert result.exit_code == 2 and "is a file" in result.output
    result = runner.invoke(app, ["board", "build", "--db", str(tmp_path / "none.db"), "-o", str(tmp_path / "s")])
    assert result.exit_code == 2 and "no results database here" in result.output
