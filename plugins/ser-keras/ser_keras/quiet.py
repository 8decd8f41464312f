"""Keep TensorFlow's start-up chatter out of serbench's output.

TensorFlow's C++ runtime prints informational lines while it loads - absl's "All log messages before
absl::InitializeLog() is called are written to STDERR", "oneDNN custom operations are on ...", the
CPU instruction sets it was built for - once in every process that imports it, workers included.
They say nothing a serbench user can act on, and they are written before TensorFlow's own log
settings apply (``TF_CPP_MIN_LOG_LEVEL`` does not silence them). So :func:`import_tensorflow` sets
``TF_CPP_MIN_LOG_LEVEL=1`` (informational lines off for the rest of the run; warnings and errors
stay) and imports TensorFlow with the process's standard error captured at the file-descriptor level,
then writes back every captured line except the informational ones (:func:`is_chatter`): warnings
and errors still show. With ``serbench --verbose`` (``SERBENCH_VERBOSE``, which worker processes inherit)
or ``SERBENCH_DEBUG=1`` nothing is filtered. A ``TF_CPP_MIN_LOG_LEVEL`` the user set is kept.
"""

from __future__ import annotations

import contextlib
import glob
import logging
import os
import re
import sys
import tempfile
from types import ModuleType
from typing import Iterator

#: TensorFlow's C++ log threshold set here: 0 shows everything, 1 drops informational lines.
QUIET_LEVEL = "1"

_CHATTER = (
    re.compile(r"^WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR$"),
    re.compile(r"^I\d{4} [\d:.]+\s+\d+ [\w.]+:\d+\] "),  # absl INFO lines (oneDNN, CPU features, ...)
    re.compile(r"^To enable the following instructions: .* rebuild TensorFlow with the appropriate compiler flags\.$"),
)


#: What TensorFlow prints when it looks for GPUs on a machine without one: CUDA's user-space libraries
#: load, the driver is absent. Dropped only where no NVIDIA device node exists (see ``gpu_probe``), so a
#: machine with a GPU that TensorFlow cannot use still shows why.
_NO_GPU = (
    re.compile(r"^E\d{4} [\d:.]+\s+\d+ cuda_platform\.cc:\d+\] failed call to cuInit: .*$"),
)


def debugging() -> bool:
    """True under ``serbench --verbose`` (which sets ``SERBENCH_VERBOSE`` for worker processes) or
    ``SERBENCH_DEBUG=1``: TensorFlow's output is left alone."""
    return any(
        os.environ.get(name, "").strip().lower() not in ("", "0", "false", "no")
        for name in ("SERBENCH_DEBUG", "SERBENCH_VERBOSE")
    )


def is_chatter(line: str) -> bool:
    """True for TensorFlow's informational start-up lines; warnings and errors are never chatter."""
    return any(pattern.match(line.rstrip("\n")) for pattern in _CHATTER)


def quiet_tensorflow_logs() -> bool:
    """Set TensorFlow's log threshold before it loads (unless debugging); True when set here."""
    if debugging():
        return False
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", QUIET_LEVEL)
    return True


def has_gpu_device_node() -> bool:
    """Whether this machine has an NVIDIA device node (``/dev/nvidia0``, ...): a GPU a driver serves."""
    return bool(glob.glob("/dev/nvidia[0-9]*"))


def is_no_gpu_noise(line: str) -> bool:
    """True for the error line TensorFlow prints when it finds no GPU driver (see :data:`_NO_GPU`)."""
    return any(pattern.match(line.rstrip("\n")) for pattern in _NO_GPU)


@contextlib.contextmanager
def gpu_probe() -> Iterator[None]:
    """Around TensorFlow's first device query: on a machine with no NVIDIA device, its "failed call to
    cuInit" error line says only that there is no GPU, which the run reports anyway, so it is dropped
    (with start-up chatter). With a device node, under ``--verbose`` or ``SERBENCH_DEBUG``, nothing is."""
    if debugging() or has_gpu_device_node():
        yield
        return
    with filtered_stderr(extra=is_no_gpu_noise):
        yield


@contextlib.contextmanager
def filtered_stderr(extra=None) -> Iterator[None]:
    """Capture file descriptor 2 inside the block, then write back every line but :func:`is_chatter`
    (and those ``extra(line)`` is true for)."""
    try:
        fd = sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):  # no real stderr (e.g. captured by a test runner)
        fd = 2
    sys.stderr.flush()
    saved = os.dup(fd)
    with tempfile.TemporaryFile(mode="w+b") as captured:
        os.dup2(captured.fileno(), fd)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, fd)
            os.close(saved)
            captured.seek(0)
            kept = [line for line in captured.read().decode(errors="replace").splitlines(True)
                    if not is_chatter(line) and not (extra and extra(line))]
            if kept:
                os.write(fd, "".join(kept).encode())


class PerFoldRetracing(logging.Filter):
    """Drops TensorFlow's "N out of the last M calls to <function KerasEstimator.predict_scores...>
    triggered tf.function retracing" warning. Each fold trains its own model and so makes its own
    prediction function, traced once or twice; a worker running many folds trips TensorFlow's
    "tf.function created in a loop" detector, which here means nothing to fix. Retracing warnings
    about any other function still show."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not ("triggered tf.function retracing" in message and "KerasEstimator.predict_scores" in message)


def drop_per_fold_retracing_warnings() -> None:
    """Install :class:`PerFoldRetracing` on TensorFlow's logger (once; not when debugging)."""
    logger = logging.getLogger("tensorflow")
    if debugging() or any(isinstance(f, PerFoldRetracing) for f in logger.filters):
        return
    logger.addFilter(PerFoldRetracing())


def import_tensorflow() -> ModuleType:
    """``import tensorflow`` without its start-up chatter (see the module docstring)."""
    if "tensorflow" in sys.modules or not quiet_tensorflow_logs():
        import tensorflow

        return tensorflow
    with filtered_stderr():
        import tensorflow
    return tensorflow
