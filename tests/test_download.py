"""``serbench corpus download`` and ``corpus list`` against a local HTTP server (no network needed).

The tests build small archives of generated WAV files in a corpus's real layout, serve them from an
HTTP server on 127.0.0.1 started here (with ``Range`` support, and able to drop a connection
part-way or answer 404), and point a corpus's declared source at it: a test corpus ``dltest``
registered in-process, and the real EMO-DB plugin with its source replaced.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import re
import tarfile
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import soundfile
from typer.testing import CliRunner

import ser_core
from ser_core import plugins
from ser_core.api.testing import fake_suite_toml
from ser_core.cli import app
from ser_core.readers import NamingConvention, filename_corpus
from ser_core.plugins import Registered
from ser_core.specs import Clip, DownloadSource, ExpectedContent, ManualSource, RemoteFile, source_problems

runner = CliRunner()


def invoke(*args: str):
    result = runner.invoke(app, list(args), env={"COLUMNS": "200"})
    return result, re.sub(r"\s+", " ", result.output)


# --- a local HTTP server -----------------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (http.server's name)
        state = self.server.state
        state.requests.append((self.path, self.headers.get("Range")))
        body = state.files.get(self.path)
        if body is None or self.path in state.status:
            self.send_error(state.status.get(self.path, 404))
            return
        start = 0
        wanted = self.headers.get("Range")
        if wanted and self.path not in state.ignore_range:
            start = int(re.fullmatch(r"bytes=(\d+)-", wanted).group(1))
            if start >= len(body):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(body)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        else:
            self.send_response(200)
        part = body[start:]
        if self.path in state.stall_before_headers:  # accepts the request, then answers nothing
            state.release.wait(30)
            return
        extra = state.extra.get(self.path)
        if extra is None:
            self.send_header("Content-Length", str(len(part)))
        self.end_headers()
        if extra is not None:  # no length announced: the body, more bytes than the file has, then close
            self.wfile.write(part + extra)
            return
        drop = state.drop.pop(self.path, None)
        self.wfile.write(part[:drop] if drop is not None else part)  # a drop: fewer bytes, then close
        if self.path in state.stall:  # a server that stops sending part-way and keeps the connection open
            self.wfile.flush()
            state.release.wait(30)

    def log_message(self, *args):
        pass


@pytest.fixture
def server(monkeypatch):
    """A local file server: ``files`` path -> bytes, ``drop`` path -> bytes sent before the next
    response to that path is cut off, ``status`` path -> an error status to answer, ``ignore_range``
    paths served whole whatever the Range header, ``requests`` (path, Range header) as received;
    ``extra`` path -> bytes sent after the file with no Content-Length; ``stall`` paths stop sending
    after the ``drop`` bytes and hold the connection; ``stall_before_headers`` paths never answer."""
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.state = SimpleNamespace(files={}, drop={}, requests=[], status={}, ignore_range=set(), extra={},
                                  stall=set(), stall_before_headers=set(), release=threading.Event())
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    httpd.state.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    yield httpd.state
    httpd.state.release.set()
    httpd.shutdown()
    httpd.server_close()


# --- a small test corpus in a real layout ----------------------------------------------------------------

NAMING = NamingConvention(
    pattern=r"(?P<speaker>s\d)_(?P<code>[a-z]{3})_(?P<take>\d)",
    example="s1_ang_1",
    labels={"ang": "anger", "neu": "neutral", "sad": "sadness"},
)
FREQUENCIES = {"ang": 660.0, "neu": 220.0, "sad": 330.0}
SPEAKERS = ("s1", "s2", "s3", "s4")
EXPECTED = ExpectedContent({"anger": 12, "sadness": 12, "neutral": 12}, speakers=4, sample_rate=16_000)


def parse(path: Path):
    name = NAMING.match(path.stem)
    if isinstance(name, str):
        return name
    return Clip(path.stem, path, name["speaker"], name.label)


def wav_bytes(frequency: float, seed: int, seconds: float = 0.6, rate: int = 16_000) -> bytes:
    rng = np.random.default_rng(seed)
    t = np.arange(int(rate * seconds)) / rate
    signal = 0.3 * np.sin(2 * np.pi * frequency * t) + 0.02 * rng.normal(size=t.size)
    buffer = io.BytesIO()
    soundfile.write(buffer, signal.astype(np.float32), rate, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


def clips(speakers=SPEAKERS) -> dict[str, bytes]:
    """The corpus's files by their path inside the archive (``audio/s1_ang_1.wav``)."""
    files = {}
    for s, speaker in enumerate(speakers):
        for c, (code, frequency) in enumerate(FREQUENCIES.items()):
            for take in (1, 2, 3):
                files[f"audio/{speaker}_{code}_{take}.wav"] = wav_bytes(frequency * (1 + 0.03 * s), 100 * s + 10 * c + take)
    return files


def zip_of(files: dict[str, bytes], top: str = "") -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as bundle:
        for name, data in sorted(files.items()):
            bundle.writestr(f"{top}{name}", data)
    return buffer.getvalue()


def tar_of(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as bundle:
        for name, data in sorted(files.items()):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            bundle.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def md5(data: bytes) -> str:
    return "md5:" + hashlib.md5(data).hexdigest()


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def with_corpus(monkeypatch, spec) -> None:
    """Make every ``load_registry()`` of the CLI also register ``spec`` (a test corpus or a replacement)."""
    real = plugins.load_registry

    class Plugin:
        @ser_core.hookimpl
        def register_corpora(self, register):
            if spec.name != "emodb":
                register(spec)

    def load(extra_plugins=(), **options):
        registry = real([*extra_plugins, ("test-download", Plugin())], **options)
        if spec.name == "emodb":
            original = registry.items["corpus"]["emodb"]
            registry.items["corpus"]["emodb"] = Registered("corpus", spec, original.plugin)
        return registry

    monkeypatch.setattr(plugins, "load_registry", load)


def dltest(source) -> object:
    return filename_corpus("dltest", parse, expected=EXPECTED, description="download test corpus",
                           licence="CC0", url="http://127.0.0.1/", audio_folders=("audio",), source=source)


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    directory = tmp_path / "data"
    monkeypatch.setenv("SERBENCH_DATA_DIR", str(directory))
    monkeypatch.delenv("SERBENCH_CORPUS_DLTEST", raising=False)
    return directory


def one_zip_source(server, data: bytes, *, hash_=None, size=True, path="/dl/corpus.zip", **options):
    server.files[path] = data
    item = RemoteFile(server.url + path, hash_ or md5(data), size=len(data) if size else None)
    return DownloadSource((item,), facts="built by the test", **options)


# --- the tests -------------------------------------------------------------------------------------------

BENCH = fake_suite_toml(("dltest",), suite="dl")


def test_good_download_to_a_board(server, data_dir, monkeypatch, tmp_path, serbench_fakes):
    """Three files (a zip, a tar.gz and a plain file), verified, unpacked, checked, recorded; then
    `serbench run` finds the corpus with no --corpus-path and prints its leaderboard row."""
    files = clips()
    first = {k: v for k, v in files.items() if k.split("/")[1][:2] in ("s1", "s2")}
    second = {k: v for k, v in files.items() if k not in first}
    zipped, tarred, notes = zip_of(first), tar_of(second), b"about this corpus\n"
    server.files.update({"/a/part1.zip": zipped, "/b/part2.tar.gz": tarred, "/c/README.txt": notes})
    source = DownloadSource((
        RemoteFile(server.url + "/a/part1.zip", md5(zipped), size=len(zipped)),
        RemoteFile(server.url + "/b/part2.tar.gz", sha256(tarred), size=len(tarred), unpack="tar"),
        RemoteFile(server.url + "/c/README.txt", sha256(notes), unpack="none", into="docs"),
    ))
    with_corpus(monkeypatch, dltest(source))

    result, text = invoke("corpus", "download", "dltest")
    assert result.exit_code == 0, text
    root = data_dir / "dltest"
    assert f"OK: dltest is ready at {root}: 36 clips, as expected (files: 3 downloaded, hashes verified)" in text
    assert sorted(p.name for p in (root / "audio").iterdir())[:2] == ["s1_ang_1.wav", "s1_ang_2.wav"]
    assert len(list((root / "audio").iterdir())) == 36
    assert (root / "docs" / "README.txt").read_bytes() == notes
    assert not (root / ".download").exists()  # archives removed once the corpus is ready
    recorded = json.loads((data_dir / "locations.json").read_text())["corpora"]["dltest"]
    assert recorded["path"] == str(root.resolve()) and recorded["clips"] == 36

    listed, text = invoke("corpus", "list", "--json")
    row = next(r for r in json.loads(listed.output) if r["corpus"] == "dltest")
    assert (row["available"], row["where"], row["source"]) == ("yes", str(root.resolve()), "download")
    assert row["configured_by"].startswith("downloaded (recorded in")

    info, text = invoke("corpus", "info", "dltest", "--strict", "--no-audio")  # the recorded location
    assert info.exit_code == 0 and f"read from: {root.resolve() / 'audio'}" in text, text

    config = tmp_path / "bench.toml"
    config.write_text(BENCH)
    ran, text = invoke("run", "--config", str(config), "--suite", "dl", "--db", str(tmp_path / "r.db"), "--workers", "1")
    assert ran.exit_code == 0, text
    assert "4 cells computed" in text and "0 corpora without data" in text
    board = re.search(r"│ dltest │ (\d+\.\d)", text)  # the board row: corpus, then the UAR of the fake system
    assert board and float(board.group(1)) > 60.0, text  # three well-separated tones: far above chance (33 %)

    requests_before = len(server.requests)
    again, text = invoke("corpus", "download", "dltest")
    assert again.exit_code == 0 and f"OK: dltest is already at {root} (36 clips, content checked)" in text
    assert len(server.requests) == requests_before  # nothing fetched again


def test_wrong_hash_deletes_the_file_and_says_so(server, data_dir, monkeypatch):
    data = zip_of(clips())
    with_corpus(monkeypatch, dltest(one_zip_source(server, data, hash_=md5(b"something else"))))
    result, text = invoke("corpus", "download", "dltest")
    assert result.exit_code == 1
    assert "corpus.zip: hash mismatch" in text and "Deleted download for safety" in text
    assert "Traceback" not in text
    work = data_dir / "dltest" / ".download"
    assert list(work.iterdir()) == []  # neither the bad file nor a partial one is left
    assert not (data_dir / "locations.json").exists()


def test_dropped_connection_keeps_a_partial_file_that_the_next_run_resumes(server, data_dir, monkeypatch):
    data = zip_of(clips())
    with_corpus(monkeypatch, dltest(one_zip_source(server, data)))
    half = len(data) // 2
    server.drop["/dl/corpus.zip"] = half

    result, text = invoke("corpus", "download", "dltest", "--retries", "0")
    assert result.exit_code == 1
    work = data_dir / "dltest" / ".download"
    partial = work / "corpus.zip.part"
    assert f"The partial download is kept as {partial}" in text and "run the same command again" in text
    kept = partial.stat().st_size
    assert 0 < kept <= half  # what arrived, up to the last whole chunk read before the cut
    assert not (work / "corpus.zip").exists()  # a partial file never has the final name
    listed, _ = invoke("corpus", "list", "--json")
    assert next(r for r in json.loads(listed.output) if r["corpus"] == "dltest")["available"] == "no"

    resumed, text = invoke("corpus", "download", "dltest")
    assert resumed.exit_code == 0, text
    assert f"corpus.zip: resuming after" in text and "36 clips, as expected" in text
    assert server.requests[-1] == ("/dl/corpus.zip", f"bytes={kept}-")  # only the rest was fetched


def test_an_interruption_is_resumed_within_one_run(server, data_dir, monkeypatch):
    data = zip_of(clips())
    with_corpus(monkeypatch, dltest(one_zip_source(server, data)))
    server.drop["/dl/corpus.zip"] = len(data) // 3
    result, text = invoke("corpus", "download", "dltest")
    assert result.exit_code == 0, text
    assert "transfer interrupted; resuming (attempt 2 of 4)" in text
    first, second = [r for _, r in server.requests]
    assert first is None and 0 < int(re.fullmatch(r"bytes=(\d+)-", second).group(1)) <= len(data) // 3


def test_404_is_a_clear_error(server, data_dir, monkeypatch):
    source = DownloadSource((RemoteFile(server.url + "/gone/corpus.zip", md5(b"x"), size=1),))
    with_corpus(monkeypatch, dltest(source))
    result, text = invoke("corpus", "download", "dltest")
    assert result.exit_code == 1
    assert f"corpus.zip: {server.url}/gone/corpus.zip answered 404 (not found)" in text
    assert "Nothing was kept" in text and "Traceback" not in text
    assert list((data_dir / "dltest" / ".download").iterdir()) == []


def test_a_server_error_is_retried_then_reported(server, data_dir, monkeypatch):
    with_corpus(monkeypatch, dltest(one_zip_source(server, zip_of(clips()))))
    server.status["/dl/corpus.zip"] = 503
    result, text = invoke("corpus", "download", "dltest", "--retries", "1")
    assert result.exit_code == 1 and "HTTPError: 503" in text and "nothing was kept" in text
    assert len(server.requests) == 2  # tried, then retried once


def test_a_refusal_is_not_retried(server, data_dir, monkeypatch):
    with_corpus(monkeypatch, dltest(one_zip_source(server, zip_of(clips()))))
    server.status["/dl/corpus.zip"] = 403
    result, text = invoke("corpus", "download", "dltest")
    assert result.exit_code == 1 and "answered 403 (Forbidden)" in text and "restricted" in text
    assert len(server.requests) == 1


def test_a_server_that_ignores_ranges_is_downloaded_again_from_the_start(server, data_dir, monkeypatch):
    data = zip_of(clips())
    with_corpus(monkeypatch, dltest(one_zip_source(server, data)))
    server.drop["/dl/corpus.zip"] = len(data) // 2
    server.ignore_range.add("/dl/corpus.zip")
    result, text = invoke("corpus", "download", "dltest")
    assert result.exit_code == 0, text
    assert "resuming after" not in text and "36 clips, as expected" in text
    assert server.requests[1][1] is not None  # a range was asked for, and the whole file came back


def test_size_differing_from_the_declared_one_is_refused(server, data_dir, monkeypatch):
    data = zip_of(clips())
    source = one_zip_source(server, data)
    source = dataclasses.replace(source, files=(dataclasses.replace(source.files[0], size=len(data) + 5),))
    with_corpus(monkeypatch, dltest(source))
    result, text = invoke("corpus", "download", "dltest")
    assert result.exit_code == 1
    assert f"the server offers {len(data)} bytes but the plugin declares {len(data) + 5}" in text


def test_corrupt_zip_is_deleted_and_named(server, data_dir, monkeypatch):
    good = zip_of(clips())
    corrupt = good[: len(good) // 2] + bytes(len(good) - len(good) // 2)  # the hash matches these bytes
    with_corpus(monkeypatch, dltest(one_zip_source(server, corrupt)))
    result, text = invoke("corpus", "download", "dltest")
    assert result.exit_code == 1
    assert "corpus.zip: the archive is damaged and cannot be unpacked" in text and "it was deleted" in text
    assert not (data_dir / "dltest" / ".download" / "corpus.zip").exists()
    assert not (data_dir / "dltest" / "audio").exists()
    assert not (data_dir / "locations.json").exists()


def test_content_that_fails_the_strict_check_is_not_recorded(server, data_dir, monkeypatch):
    files = clips()
    files.pop("audio/s4_sad_3.wav")
    with_corpus(monkeypatch, dltest(one_zip_source(server, zip_of(files))))
    result, text = invoke("corpus", "download", "dltest")
    assert result.exit_code == 1
    assert "the content differs from what the plugin expects (sadness: 1 clips missing" in text
    assert "The location was not recorded" in text
    assert not (data_dir / "locations.json").exists()


def test_an_archive_in_an_unexpected_layout_is_reported_not_recorded(server, data_dir, monkeypatch):
    with_corpus(monkeypatch, dltest(one_zip_source(server, zip_of({"readme.txt": b"no audio here"}))))
    result, text = invoke("corpus", "download", "dltest")
    assert result.exit_code == 1
    assert "the content differs from what the plugin expects (corpus 'dltest'" in text and "no clips found" in text
    assert "the verified downloads are kept in" in text and (data_dir / "dltest" / ".download" / "corpus.zip").exists()
    assert not (data_dir / "locations.json").exists()


def test_a_recorded_corpus_that_was_damaged_is_downloaded_again(server, data_dir, monkeypatch):
    with_corpus(monkeypatch, dltest(one_zip_source(server, zip_of(clips()))))
    assert invoke("corpus", "download", "dltest")[0].exit_code == 0
    (data_dir / "dltest" / "audio" / "s1_ang_1.wav").unlink()
    result, text = invoke("corpus", "download", "dltest")
    assert result.exit_code == 0, text
    assert "differs from the expected content; downloading it again" in text and "36 clips, as expected" in text
    assert (data_dir / "dltest" / "audio" / "s1_ang_1.wav").exists()


def test_unwritable_destination_is_refused_before_downloading(server, data_dir, monkeypatch, tmp_path):
    with_corpus(monkeypatch, dltest(one_zip_source(server, zip_of(clips()))))
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    result, text = invoke("corpus", "download", "dltest", "--to", str(blocker / "corpus"))
    assert result.exit_code == 2
    assert f"the download destination {blocker / 'corpus'} cannot be created: {blocker} is a file" in text
    assert server.requests == []  # refused before any byte was fetched


def test_read_only_destination_is_refused_before_downloading(server, data_dir, monkeypatch, tmp_path):
    import os

    if os.geteuid() == 0:
        pytest.skip("running as root: permissions do not stop root from writing")
    with_corpus(monkeypatch, dltest(one_zip_source(server, zip_of(clips()))))
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    try:
        result, text = invoke("corpus", "download", "dltest", "--to", str(locked / "corpus"))
    finally:
        locked.chmod(0o700)
    assert result.exit_code == 2 and "cannot be written (permission denied or read-only)" in text
    assert server.requests == []


def test_a_read_only_file_system_is_refused_before_downloading(server, data_dir, monkeypatch, tmp_path):
    """The same refusal as for a read-only directory, simulated so that it also runs as root."""
    import errno
    import tempfile

    with_corpus(monkeypatch, dltest(one_zip_source(server, zip_of(clips()))))
    locked = tmp_path / "mounted-read-only"
    real = tempfile.mkstemp

    def mkstemp(*args, dir=None, **kwargs):
        if dir is not None and Path(dir).is_relative_to(locked):
            raise OSError(errno.EROFS, "Read-only file system", str(dir))
        return real(*args, dir=dir, **kwargs)

    monkeypatch.setattr(tempfile, "mkstemp", mkstemp)
    result, text = invoke("corpus", "download", "dltest", "--to", str(locked / "corpus"))
    assert result.exit_code == 2
    assert f"the download destination {locked / 'corpus'} cannot be written (permission denied or read-only)" in text
    assert "choose another one with --to DIR or set SERBENCH_DATA_DIR" in text
    assert server.requests == []


def test_not_enough_space_is_refused_before_downloading(server, data_dir, monkeypatch):
    import shutil

    data = zip_of(clips())
    with_corpus(monkeypatch, dltest(one_zip_source(server, data)))
    monkeypatch.setattr(shutil, "disk_usage", lambda path: SimpleNamespace(total=10**9, used=10**9 - 100, free=100))
    result, text = invoke("corpus", "download", "dltest")
    assert result.exit_code == 2 and "has 100 bytes free" in text and "are needed" in text
    assert server.requests == []


def test_licence_must_be_accepted_before_a_scripted_download(server, data_dir, monkeypatch, tmp_path):
    source = one_zip_source(server, zip_of(clips()), accept="Free for academic research; cite the paper.")
    with_corpus(monkeypatch, dltest(source))
    refused, text = invoke("corpus", "download", "dltest")
    assert refused.exit_code == 1
    assert "terms you must accept first: Free for academic research; cite the paper." in text
    assert "serbench corpus download dltest --accept-licence" in text and server.requests == []
    target = tmp_path / "elsewhere"
    accepted, text = invoke("corpus", "download", "dltest", "--accept-licence", "--to", str(target))
    assert accepted.exit_code == 0, text
    assert json.loads((data_dir / "locations.json").read_text())["corpora"]["dltest"]["path"] == str(target.resolve())


def test_manual_corpus_prints_licence_request_address_and_steps():
    result, text = invoke("corpus", "download", "iemocap")
    assert result.exit_code == 1
    assert "iemocap cannot be downloaded by serbench" in text
    assert "request access: https://sail.usc.edu/iemocap/" in text
    assert "steps: 1." in text and "--corpus-path iemocap=DIR, [corpora.iemocap] in benchmarks.toml" in text


@pytest.mark.parametrize(
    "name, message",
    [
        ("synthetic", "corpus 'synthetic' is generated by its plugin: there is nothing to download."),
        ("csv", "corpus 'csv' declares no data source"),
        ("emodbb", "unknown corpus 'emodbb'. Did you mean 'emodb'?"),
    ],
)
def test_corpora_without_a_download_are_a_message(name, message):
    result, text = invoke("corpus", "download", name)
    assert result.exit_code == 2 and message in text and "Traceback" not in text


def test_real_emodb_layout_passes_the_strict_check(server, data_dir, monkeypatch):
    """The EMO-DB plugin's own scan and expected content (Table 1) on a generated archive in the
    publisher's layout (``wav/03a01Fa.wav`` ... beside ``lablaut/``), served as its download."""
    import ser_plugin_emodb

    counts = {"W": 127, "F": 71, "T": 62, "A": 69, "E": 46, "N": 79, "L": 81}
    speakers = sorted(ser_plugin_emodb.MALE | ser_plugin_emodb.FEMALE)
    tone = wav_bytes(300.0, 0, seconds=0.05)
    files, n = {"erkennung.txt": b"...", "lablaut/03a01Fa.lab": b"..."}, 0
    for code, count in counts.items():
        for i in range(count):
            speaker = speakers[n % len(speakers)]
            files[f"wav/{speaker}{'ab'[i % 2]}{i // 2 % 100:02d}{code}{'abcdefghij'[i // 200]}.wav"] = tone
            n += 1
    archive = zip_of(files)
    spec = plugins.load_registry().corpus("emodb").spec
    with_corpus(monkeypatch, dataclasses.replace(spec, source=one_zip_source(server, archive, path="/download/download.zip")))
    result, text = invoke("corpus", "download", "emodb")
    assert result.exit_code == 0, text
    assert f"OK: emodb is ready at {data_dir / 'emodb'}: 535 clips, as expected" in text


# --- corpus list and the contract --------------------------------------------------------------------------


def test_corpus_list_shows_every_corpus_with_availability_licence_and_route(data_dir, monkeypatch, tmp_path):
    (tmp_path / "emodb").mkdir()
    monkeypatch.setenv("SERBENCH_CORPUS_EMODB", str(tmp_path / "emodb"))
    monkeypatch.setenv("SERBENCH_CORPUS_TESS", str(tmp_path / "absent"))
    monkeypatch.chdir(tmp_path)  # no benchmarks.toml here
    result, text = invoke("corpus", "list")
    assert result.exit_code == 0, text
    installed = plugins.load_registry().items["corpus"]
    for name in installed:
        assert re.search(rf"(^|\s){re.escape(name)}\s", text), name
    listed, _ = invoke("corpus", "list", "--json")
    rows = {r["corpus"]: r for r in json.loads(listed.output)}
    assert set(rows) == set(installed)
    assert (rows["emodb"]["available"], rows["emodb"]["where"]) == ("yes", str(tmp_path / "emodb"))
    assert rows["emodb"]["configured_by"] == "SERBENCH_CORPUS_EMODB"
    assert rows["tess"]["available"] == "no (missing)"
    assert rows["synthetic"]["available"] == "yes" and rows["synthetic"]["source"] == "generated"
    assert rows["ravdess"]["source"] == "download" and rows["ravdess"]["licence"] == "CC BY-NC-SA 4.0"
    assert "serbench corpus download ravdess (1 file, 208.5 MB)" in rows["ravdess"]["how_to_get"]
    assert rows["iemocap"]["source"] == "manual" and "sail.usc.edu" in rows["iemocap"]["how_to_get"]
    assert rows["csv"]["source"] == "none"
    for study in ("cafe", "cremad", "demos", "emodb", "emofilm", "enterface", "iemocap", "jl", "mspimprov",
                  "portuguese", "ravdess", "savee", "shemo", "smartkom", "tess"):
        assert rows[study]["source"] in ("download", "manual"), study


@pytest.mark.parametrize(
    "source, problem",
    [
        (DownloadSource(()), "at least one file"),
        (DownloadSource((RemoteFile("ftp://x/a.zip", "md5:" + "0" * 32),)), "is not an http(s) address"),
        (DownloadSource((RemoteFile("https://x/a.zip", "sha1:" + "0" * 40),)), "must start with one of md5:, sha256:"),
        (DownloadSource((RemoteFile("https://x/a.zip", "md5:1234"),)), "is not 32 hexadecimal digits of md5"),
        (DownloadSource((RemoteFile("https://x/a.zip", "md5:" + "0" * 32, size=0),)), "must be a positive number"),
        (DownloadSource((RemoteFile("https://x/a.zip", "md5:" + "0" * 32, unpack="rar"),)), "unpack 'rar'"),
        (DownloadSource((RemoteFile("https://x/a.zip", "md5:" + "0" * 32, into="../up"),)), "without '..'"),
        (DownloadSource((RemoteFile("https://x/a.zip", "md5:" + "0" * 32),) * 2), "is used twice"),
        (ManualSource(()), "at least one step"),
        ("https://x/a.zip", "must be a DownloadSource or a ManualSource"),
    ],
)
def test_invalid_sources_are_named(source, problem):
    found = source_problems(source)
    assert any(problem in p for p in found), found


def test_every_installed_corpus_declares_a_valid_source():
    for name, corpus in plugins.load_registry().items["corpus"].items():
        assert source_problems(corpus.spec.source) == [], name


def test_validate_plugin_checks_the_source(monkeypatch):
    result, text = invoke("validate-plugin", "ravdess")
    assert result.exit_code == 0, text
    assert "declared data source is valid" in text and "download: 1 files, md5 hashes" in text
    bad = dltest(DownloadSource((RemoteFile("https://x/a.zip", "md5:nothex"),)))
    with_corpus(monkeypatch, bad)
    failed, text = invoke("validate-plugin", "dltest")
    assert failed.exit_code == 1 and "FAIL" in text and "is not 32 hexadecimal digits of md5" in text


def test_data_directory_default_and_override(monkeypatch, tmp_path):
    from ser_core import config

    monkeypatch.delenv("SERBENCH_DATA_DIR", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert config.data_dir() == tmp_path / "xdg" / "serbench"
    monkeypatch.setenv("SERBENCH_DATA_DIR", str(tmp_path / "mine"))
    assert config.data_dir() == tmp_path / "mine"


def test_a_damaged_locations_file_is_named(data_dir, monkeypatch):
    data_dir.mkdir(parents=True)
    (data_dir / "locations.json").write_text("{not json")
    monkeypatch.delenv("SERBENCH_CORPUS_EMODB", raising=False)
    result, text = invoke("corpus", "list")
    assert result.exit_code == 2
    assert f"{data_dir / 'locations.json'}: the record of downloaded corpora cannot be read" in text


def test_listing_and_help_do_not_import_the_download_libraries():
    import subprocess
    import sys

    probe = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from ser_core.cli import app\n"
        "for args in (['list'], ['corpus', '--help'], ['corpus', 'download', '--help'], ['corpus', 'list']):\n"
        "    assert CliRunner().invoke(app, args).exit_code == 0, args\n"
        "print(sorted(m for m in ('pooch', 'requests', 'tensorflow', 'librosa') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


# --- what serbench did not write, unsafe archives, wrong lengths and stalled servers ---------------------


def test_a_users_file_of_the_same_name_is_kept_and_named(server, data_dir, monkeypatch, tmp_path):
    """A file in the destination that serbench did not write is never replaced: the download stops before
    anything is moved, names the file, keeps the verified archive; once it is moved away the re-run works,
    and files serbench wrote itself may be replaced by a later download."""
    with_corpus(monkeypatch, dltest(one_zip_source(server, zip_of(clips()))))
    target = tmp_path / "mine"
    (target / "audio").mkdir(parents=True)
    own = target / "audio" / "s2_neu_3.wav"
    own.write_bytes(b"my own recording")

    result, text = invoke("corpus", "download", "dltest", "--to", str(target))
    assert result.exit_code == 1, text
    assert f"{own}: this file was not written by serbench" in text and "it was kept and nothing was unpacked" in text
    assert "Move it elsewhere (or download into another folder with --to DIR)" in text
    assert own.read_bytes() == b"my own recording"
    assert sorted(p.name for p in (target / "audio").iterdir()) == ["s2_neu_3.wav"]  # nothing else moved in
    assert (target / ".download" / "corpus.zip").exists()  # the verified download is kept
    assert not (data_dir / "locations.json").exists()

    own.rename(tmp_path / "moved.wav")
    again, text = invoke("corpus", "download", "dltest", "--to", str(target))
    assert again.exit_code == 0, text
    assert "36 clips, as expected (files: 0 downloaded, 1 already here" in text  # the kept download was reused
    assert "audio/s2_neu_3.wav" in (target / ".serbench-files").read_text().splitlines()

    (target / "audio" / "s1_ang_1.wav").unlink()  # damaged: serbench may write its own files again
    third, text = invoke("corpus", "download", "dltest", "--to", str(target))
    assert third.exit_code == 0 and "downloading it again" in text, text


def test_a_users_file_in_the_place_of_a_plain_download_is_kept(server, data_dir, monkeypatch, tmp_path):
    files = clips()
    archive, notes = zip_of(files), b"about this corpus\n"
    server.files.update({"/a/corpus.zip": archive, "/c/README.txt": notes})
    source = DownloadSource((
        RemoteFile(server.url + "/a/corpus.zip", md5(archive), size=len(archive)),
        RemoteFile(server.url + "/c/README.txt", sha256(notes), unpack="none", into="docs"),
    ))
    with_corpus(monkeypatch, dltest(source))
    own = data_dir / "dltest" / "docs" / "README.txt"
    own.parent.mkdir(parents=True)
    own.write_text("my notes")
    result, text = invoke("corpus", "download", "dltest")
    assert result.exit_code == 1 and f"{own}: this file was not written by serbench" in text, text
    assert "README.txt would replace it" in text and own.read_text() == "my notes"
    assert len(list((data_dir / "dltest" / "audio").iterdir())) == 36  # what came before it was unpacked and kept


def _zip_with(name: str, data: bytes = b"x", mode: int | None = None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as bundle:
        bundle.writestr("audio/s1_ang_1.wav", wav_bytes(660.0, 1))
        info = zipfile.ZipInfo(name)
        if mode is not None:
            info.external_attr = mode << 16
        bundle.writestr(info, data)
    return buffer.getvalue()


def _tar_with(name: str, kind: bytes = tarfile.REGTYPE, link: str = "") -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as bundle:
        info = tarfile.TarInfo(name)
        info.type, info.linkname = kind, link
        info.size = 0 if kind != tarfile.REGTYPE else 1
        bundle.addfile(info, io.BytesIO(b"x") if kind == tarfile.REGTYPE else None)
    return buffer.getvalue()


@pytest.mark.parametrize("unpack, data, member, why", [
    ("zip", _zip_with("../escaped.wav"), "../escaped.wav", "would be written outside the corpus folder"),
    ("zip", _zip_with("/tmp/serbench-absolute.wav"), "/tmp/serbench-absolute.wav", "has an absolute path"),
    ("zip", _zip_with("audio/link.wav", b"/etc/passwd", 0o120777), "audio/link.wav", "is a symbolic link"),
    ("tar", _tar_with("../escaped.wav"), "../escaped.wav", "would be written outside the corpus folder"),
    ("tar", _tar_with("/tmp/serbench-absolute.wav"), "/tmp/serbench-absolute.wav", "has an absolute path"),
    ("tar", _tar_with("audio/link.wav", tarfile.SYMTYPE, "../../outside"), "audio/link.wav", "is a link"),
    ("tar", _tar_with("audio/inside.wav", tarfile.SYMTYPE, "s1_ang_1.wav"), "audio/inside.wav", "is a link"),
    ("tar", _tar_with("audio/fifo", tarfile.FIFOTYPE), "audio/fifo", "is not a regular file"),
], ids=["zip-slip", "zip-absolute", "zip-symlink", "tar-slip", "tar-absolute", "tar-symlink-out", "tar-symlink-in",
        "tar-fifo"])
def test_an_unsafe_archive_is_called_unsafe_and_not_downloaded_again(server, data_dir, monkeypatch, tmp_path,
                                                                     unpack, data, member, why):
    source = one_zip_source(server, data)
    source = dataclasses.replace(source, files=(dataclasses.replace(source.files[0], unpack=unpack),))
    with_corpus(monkeypatch, dltest(source))
    result, text = invoke("corpus", "download", "dltest", "--to", str(tmp_path / "corpus"))
    assert result.exit_code == 1, text
    assert f"corpus.zip: the archive is unsafe to unpack: member {member!r} {why}" in text, text
    assert "Downloading it again will not help" in text and "report it to the plugin's authors" in text
    assert "damaged" not in text and "afresh" not in text and "Traceback" not in text
    assert not (tmp_path / "escaped.wav").exists() and not Path("/tmp/serbench-absolute.wav").exists()
    assert not (tmp_path / "corpus" / "audio").exists()  # nothing of it was unpacked
    assert not (data_dir / "locations.json").exists()


def test_a_server_sending_more_than_the_file_is_stopped_and_reported_as_such(server, data_dir, monkeypatch):
    data = zip_of(clips())
    with_corpus(monkeypatch, dltest(one_zip_source(server, data)))
    server.extra["/dl/corpus.zip"] = bytes(40_000)  # no Content-Length, then more bytes than declared
    result, text = invoke("corpus", "download", "dltest", "--retries", "0")
    assert result.exit_code == 1, text
    assert f"sent more than the {ser_core.download._human(len(data))} the plugin declares" in text
    assert "stopped there and the download was discarded" in text and "Nothing was kept" in text
    assert "ended after" not in text and "stopped sending after" not in text
    assert not (data_dir / "dltest" / ".download" / "corpus.zip.part").exists()

    server.extra.clear()
    again, text = invoke("corpus", "download", "dltest")
    assert again.exit_code == 0 and "36 clips, as expected" in text, text


def test_a_stalled_server_ends_the_attempt_with_network_advice_and_the_partial_file_kept(server, data_dir,
                                                                                       monkeypatch):
    """A server that accepts and then stops sending: each wait ends at the read timeout, the message advises
    about the network or proxy (not the path or disk), what arrived is kept, and the next run resumes it."""
    import ser_core.download as download

    monkeypatch.setattr(download, "TIMEOUT", (5, 1))
    data = zip_of(clips())
    with_corpus(monkeypatch, dltest(one_zip_source(server, data)))
    server.stall.add("/dl/corpus.zip")
    server.drop["/dl/corpus.zip"] = len(data) // 2

    result, text = invoke("corpus", "download", "dltest", "--retries", "0")
    assert result.exit_code == 1, text
    assert "sent nothing for 1 s" in text and "proxy (HTTPS_PROXY / NO_PROXY)" in text
    assert "run the same command again" in text and "disk space" not in text and "Traceback" not in text
    partial = data_dir / "dltest" / ".download" / "corpus.zip.part"
    assert f"The partial download is kept as {partial}" in text and partial.stat().st_size > 0

    server.stall.clear()
    resumed, text = invoke("corpus", "download", "dltest")
    assert resumed.exit_code == 0 and "resuming after" in text and "36 clips, as expected" in text, text


def test_a_server_that_accepts_and_never_answers_is_a_bounded_wait(server, data_dir, monkeypatch):
    import ser_core.download as download

    monkeypatch.setattr(download, "TIMEOUT", (5, 1))
    with_corpus(monkeypatch, dltest(one_zip_source(server, zip_of(clips()))))
    server.stall_before_headers.add("/dl/corpus.zip")
    result, text = invoke("corpus", "download", "dltest", "--retries", "1")
    assert result.exit_code == 1, text
    assert "sent nothing for 1 s" in text and "proxy" in text and "nothing was kept" in text
    assert "disk space" not in text and "Traceback" not in text
    assert [path for path, _ in server.requests] == ["/dl/corpus.zip"] * 2  # one retry, then the message


def test_a_refused_connection_advises_about_the_network(data_dir, monkeypatch):
    import socket

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    item = RemoteFile(f"http://127.0.0.1:{port}/corpus.zip", md5(b"x"), size=1)
    with_corpus(monkeypatch, dltest(DownloadSource((item,))))
    result, text = invoke("corpus", "download", "dltest", "--retries", "0")
    assert result.exit_code == 1, text
    assert f"corpus.zip: the connection to http://127.0.0.1:{port}/corpus.zip failed" in text
    assert "Check the network connection and any proxy" in text and "nothing was kept" in text
    assert "disk space" not in text


def test_retries_are_bounded():
    result, text = invoke("corpus", "download", "dltest", "--retries", "1000000")
    assert result.exit_code == 2 and "Invalid value for '--retries'" in text and "less than or equal to 20" in text


@pytest.mark.parametrize("error, words", [
    (TimeoutError("timed out"), "a network connection timed out: timed out"),
    (ConnectionResetError(104, "Connection reset by peer"), "a network connection failed (ConnectionResetError)"),
])
def test_a_network_error_escaping_anywhere_gets_network_advice_not_disk_advice(monkeypatch, error, words):
    """Whatever raises it, a timeout or a reset connection is explained as the network's, exit 1, no traceback."""
    import ser_core.download as download

    def fails(*args, **kwargs):
        raise error

    monkeypatch.setattr(download, "download_corpus", fails)
    result, text = invoke("corpus", "download", "ravdess")
    assert result.exit_code == 1 and words in text, text
    assert "Check the network connection and any proxy" in text and "disk space" not in text and "Traceback" not in text


def test_a_connection_that_never_starts_is_not_called_a_resumed_transfer(data_dir, monkeypatch):
    """Offline, every retry said 'transfer interrupted; resuming' although no byte had arrived."""
    import socket

    with socket.socket() as probe:  # a local port nothing listens on: the connection is refused at once
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    source = DownloadSource((RemoteFile(f"http://127.0.0.1:{port}/dl/corpus.zip", md5(b"x"), size=1),),
                            facts="built by the test")
    with_corpus(monkeypatch, dltest(source))
    result, text = invoke("corpus", "download", "dltest", "--retries", "1")
    assert result.exit_code == 1, text
    assert "corpus.zip: no connection (nothing received); trying again (attempt 2 of 2)" in text
    assert "resuming" not in text and "Traceback" not in text


def test_a_data_directory_that_is_a_file_is_named_as_the_setting_at_fault(tmp_path, monkeypatch):
    """SERBENCH_DATA_DIR=/dev/null said 'Delete [the record] and run `serbench corpus download` again'."""
    blocker = tmp_path / "data-file"
    blocker.write_text("mine")
    monkeypatch.setenv("SERBENCH_DATA_DIR", str(blocker))
    result, text = invoke("corpus", "list")
    assert result.exit_code == 2, text
    assert f"the data directory {blocker} is not a directory (a file is in the way)" in text
    assert "Set SERBENCH_DATA_DIR to a directory" in text and "Delete it" not in text
    assert blocker.read_text() == "mine"
