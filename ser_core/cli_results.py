"""``serbench results`` (export, verify, import results bundles) and ``serbench board build`` (the site).

- ``serbench results export --db DB -o FILE [--system S ...] [--corpus C ...]``: one bundle file
  (docs/results-bundle.md) of the board's results, with a model card per system.
- ``serbench results verify FILE [--corpus-path NAME=DIR]``: recompute every figure from the bundle's
  predictions against the local corpus; exit status 0 verified, 1 a check failed, 4 internally
  consistent but some corpus's labels could not be checked here (2: the file cannot be read).
- ``serbench results import FILE... --db DB [--unverified]``: store verified bundles (idempotent).
- ``serbench board build --db DB -o DIR``: the static leaderboard site (:mod:`ser_core.site`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.markup import escape
from rich.table import Table

from ser_core import config as paths
from ser_core.cli_common import ForceOption, ResamplesOption, StatsSeedOption, console, err_console, friendly_errors
from ser_core.errors import ConfigError

results_app = typer.Typer(help="Export, verify and import results bundles (results that travel).",
                          no_args_is_help=True)
board_app = typer.Typer(help="Build the static leaderboard site.", no_args_is_help=True)

DbOption = Annotated[
    Optional[Path], typer.Option("--db", help="Results database \\[default: $SERBENCH_DB or ./serbench.db].")
]
CorpusPathOption = Annotated[
    Optional[list[str]],
    typer.Option("--corpus-path", help="NAME=DIR: where a corpus lives here (repeatable); other corpora are found "
                 "as `serbench run` finds them."),
]
ConfigOption = Annotated[
    Optional[Path],
    typer.Option("--config", "-c", help="Benchmarks file whose \\[corpora.NAME] paths say where corpora live "
                 "\\[default: $SERBENCH_CONFIG, else ./benchmarks.toml when present]."),
]
_STATUS = {"verified": "[green]verified[/]", "labels-unchecked": "[yellow]labels unchecked[/]",
           "failed": "[red]FAILED[/]"}


def _existing_db(db: Path | None) -> Path:
    from ser_core.results_check import check_results_db

    db_path = db or paths.default_db()
    if not db_path.exists():
        raise ConfigError(f"{db_path}: no results database here. Run `serbench run` or pass --db PATH.")
    check_results_db(db_path, write=False)
    return db_path


@results_app.command("export")
@friendly_errors
def export_command(
    output: Annotated[Path, typer.Option("--output", "-o", help="The bundle file to write (e.g. mymodel.serbench.json).")],
    db: DbOption = None,
    system: Annotated[Optional[list[str]], typer.Option("--system", help="Only this system (repeatable).")] = None,
    corpus: Annotated[Optional[list[str]], typer.Option("--corpus", help="Only this corpus (repeatable).")] = None,
    citation: Annotated[Optional[str], typer.Option(help="How to cite the model(s), for the model card.")] = None,
    notes: Annotated[Optional[str], typer.Option(help="Notes for the model card (reduced settings, hardware...).")] = None,
    resamples: ResamplesOption = 1000,
    stats_seed: StatsSeedOption = 0,
    force: ForceOption = False,
) -> None:
    """Write a results bundle: protocols, corpus instances, every prediction by clip id, provenance and a
    model card per system, and the board's figures; no audio, features or labels. Send it to a maintainer."""
    from ser_core import bundle, outputs
    from ser_core.cli_common import check_stored_names
    from ser_core.plugins import load_registry
    from ser_core.results import ResultStore
    from ser_core.results_check import results_db_errors

    replacing = outputs.refuse_to_replace(output, force)
    outputs.check_output(output)
    db_path = _existing_db(db)
    with results_db_errors(db_path), ResultStore(db_path, readonly=True) as store:
        check_stored_names(store, corpus, system)
        data = bundle.export_bundle(store, corpus, system, registry=load_registry(), citation=citation, notes=notes,
                                    resamples=resamples, seed=stats_seed)
    outputs.write_text(output, bundle.dumps(data))
    pairs = ", ".join(f"{r['system']} on {r['corpus']}" for r in data["results"][:6])
    more = f" and {len(data['results']) - 6} more" if len(data["results"]) > 6 else ""
    (err_console if outputs.is_stream(output) else console).print(
        f"{'replaced' if replacing else 'wrote'} {escape(str(output))}: {len(data['results'])} results "
        f"({escape(pairs)}{more}), {sum(len(r['cells']) for r in data['results'])} cells; content hash "
        f"{data['content_hash']}", highlight=False)


def _verify(files: list[Path], corpus_path: list[str] | None, config: Path | None, *, for_import: bool):
    from ser_core import bundle
    from ser_core.cli_common import parse_corpus_paths
    from ser_core.plugins import load_registry
    from ser_core.suites import load_suites

    # where the corpora are: --corpus-path first, then the benchmarks file, as for `serbench run`
    registry = load_registry()
    corpus_paths = {**load_suites(config, registry).corpus_paths, **parse_corpus_paths(corpus_path or [])}
    out = []
    for path in files:
        data = bundle.read_bundle(path)
        out.append((path, data, bundle.verify_bundle(data, path=str(path), registry=registry,
                                                      corpus_paths=corpus_paths, for_import=for_import)))
    return out


def _print_verification(path: Path, verification) -> None:
    table = Table("corpus", "system", "result", title=f"{path.name} ({verification.content_hash[:23]})")
    for section in verification.sections:
        table.add_row(escape(section.corpus), escape(section.system), _STATUS[section.status])
    console.print(table)
    for problem in verification.problems:
        console.print(f"  [red]problem[/] {escape(path.name)}: {escape(problem)}", highlight=False)
    for section in verification.sections:
        for problem in section.problems:
            console.print(f"  [red]problem[/] {escape(section.system)} on {escape(section.corpus)}: "
                          f"{escape(problem)}", highlight=False)
        if section.unchecked and not section.problems:
            console.print(f"  [yellow]unchecked[/] {escape(section.system)} on {escape(section.corpus)}: "
                          f"{escape(section.unchecked)}", highlight=False)


@results_app.command("verify")
@friendly_errors
def verify_command(
    file: Annotated[Path, typer.Argument(help="The results bundle to check.")],
    corpus_path: CorpusPathOption = None,
    config: ConfigOption = None,
) -> None:
    """Recompute every figure of a bundle from its predictions against the local corpus's labels, and check
    clip ids, the manifest fingerprint and that the folds are serbench's (speaker-independent). Exit status:
    0 verified; 1 a check failed; 4 consistent, but some corpus is not here, so its labels were not checked."""
    from ser_core import bundle

    [(path, _, verification)] = _verify([file], corpus_path, config, for_import=False)
    _print_verification(path, verification)
    status = verification.status
    if status == bundle.VERIFIED:
        console.print("[green]Verified:[/] every figure was recomputed from the predictions against the corpus's "
                      "labels, on serbench's folds. Import it with `serbench results import`.")
    elif status == bundle.UNCHECKED:
        console.print("[yellow]Internally consistent, labels not checked:[/] no problem was found, but the "
                      "predictions could not be scored for the corpora marked unchecked (exit status 4). Make "
                      "them available (--corpus-path NAME=DIR) and verify again.")
    else:
        console.print("[red]Verification failed[/] (exit status 1): see the problems above. `serbench results "
                      "import` refuses this bundle unless --unverified.")
    raise typer.Exit(verification.exit_status)


@results_app.command("import")
@friendly_errors
def import_command(
    files: Annotated[list[Path], typer.Argument(help="Results bundles to add.")],
    db: DbOption = None,
    corpus_path: CorpusPathOption = None,
    config: ConfigOption = None,
    unverified: Annotated[
        bool, typer.Option("--unverified", help="Also import results that fail verification (or whose labels could "
                           "not be checked); every board marks them ‡ unverified.")
    ] = False,
) -> None:
    """Verify bundles and add their results to a results database (idempotent: importing again adds nothing).
    A result that fails verification is refused unless --unverified. Exit status 1 when anything was refused."""
    from ser_core import bundle
    from ser_core.results import ResultStore
    from ser_core.results_check import check_results_db, results_db_errors

    db_path = db or paths.default_db()
    existed = db_path.exists()
    check_results_db(db_path, write=existed)  # a new database is not created for a bundle that is refused
    verified = _verify(files, corpus_path, config, for_import=True)
    if not existed:
        check_results_db(db_path, write=True)
    refused = 0
    with results_db_errors(db_path), ResultStore(db_path) as store:
        for path, data, verification in verified:
            report = bundle.import_bundle(store, data, verification, allow_unverified=unverified, path=str(path))
            for corpus, system, status, cells in report.imported:
                colour = "green" if status == "verified" else "yellow"
                console.print(f"[{colour}]imported[/] {escape(system)} on {escape(corpus)} from {escape(path.name)}: "
                              f"{cells} cells, {status}", highlight=False)
            for corpus, system in report.already:
                console.print(f"already imported: {escape(system)} on {escape(corpus)} from {escape(path.name)}",
                              highlight=False)
            for corpus, system, why in report.refused:
                refused += 1
                err_console.print(f"[red]refused[/] {escape(system)} on {escape(corpus)} from {escape(path.name)}: "
                                  f"{escape(why)}", highlight=False)
    console.print(f"results database {escape(str(db_path))}; rebuild the site with `serbench board build --db "
                  f"{escape(str(db_path))} -o DIR`.", highlight=False)
    if refused:
        raise typer.Exit(1)


@board_app.command("build")
@friendly_errors
def build_command(
    output: Annotated[Path, typer.Option("--output", "-o", help="Directory to write the site into.")],
    db: DbOption = None,
    reference: Annotated[
        Optional[str], typer.Option("--reference", help="Published numbers shown beside ours: a registered "
                                    "reference's name (e.g. keesing2020) or a CSV file (corpus,system,uar in %).")
    ] = None,
    title: Annotated[str, typer.Option(help="The site's title.")] = "serbench leaderboard",
    resamples: ResamplesOption = 1000,
    stats_seed: StatsSeedOption = 0,
    force: ForceOption = False,
) -> None:
    """Write a static leaderboard site (index, one page per corpus and per system, a JSON file per page) that
    works from file:// and any static host: plain HTML, CSS and JS, no CDN, no build step."""
    from ser_core import leaderboard, site
    from ser_core.plugins import load_registry
    from ser_core.results import ResultStore
    from ser_core.results_check import results_db_errors

    ref = leaderboard.load_reference(reference) if reference is not None else None
    db_path = _existing_db(db)
    with results_db_errors(db_path), ResultStore(db_path, readonly=True) as store:
        built = site.build(store, output, registry=load_registry(), reference=ref, title=title,
                           resamples=resamples, seed=stats_seed, force=force)
    console.print(f"wrote {len(built.pages)} pages to {escape(str(output))}; open {escape(str(output / 'index.html'))}",
                  highlight=False)
