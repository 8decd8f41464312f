"""Test-wide isolation: caches and results go to a temporary directory, never the user's."""

import os
import tempfile

import pytest

# Load openSMILE's native library (when ser-plugin-opensmile is installed) before any test module
# imports TensorFlow: in the other order the two libraries' shared FFT symbols make openSMILE's
# extraction abort (see ser_keras.training).
try:
    import opensmile  # noqa: F401
except ImportError:
    pass


def pytest_configure(config):
    root = tempfile.mkdtemp(prefix="serbench-tests-")
    os.environ["SERBENCH_CACHE_DIR"] = os.path.join(root, "cache")
    os.environ["SERBENCH_DB"] = os.path.join(root, "serbench.db")
    os.environ["SERBENCH_DATA_DIR"] = os.path.join(root, "data")  # downloaded corpora, recorded locations
    os.environ.pop("SERBENCH_STRICT_PLUGINS", None)


# Where the maintainers' machines keep EMO-DB (outside the repository); anyone else sets SERBENCH_EMODB.
EMODB = os.path.join(os.path.dirname(__file__), "..", "shared", "data", "emodb", "wav")


@pytest.fixture(scope="session")
def emodb_dir():
    """The real EMO-DB clips, or a skip saying where they were looked for."""
    given = os.environ.get("SERBENCH_EMODB")
    path = os.path.abspath(given or EMODB)
    if not os.path.isdir(path) or not any(name.endswith(".wav") for name in os.listdir(path)):
        where = f"not found at {path}" if given else "not available"
        pytest.skip(f"real EMO-DB {where}: set SERBENCH_EMODB to its wav/ directory to run this test")
    return path
