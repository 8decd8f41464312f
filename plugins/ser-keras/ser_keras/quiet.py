"""Keep TensorFlow's start-up chatter out of serbench's output.

TensorFlow's C++ runtime prints informational lines when it loads (oneDNN custom operations, CPU
instruction sets, absl's "log messages before absl::InitializeLog()"), once in every process that
imports it, workers included. They say nothing a serbench user can act on. :func:`quiet_tensorflow_logs`
sets TensorFlow's logging variables before TensorFlow is imported, so informational lines are
dropped while warnings and errors still show; with ``serbench --verbose`` (or ``SERBENCH_DEBUG=1``,
which worker processes inherit) nothing is changed. A value the user set is always kept.
"""

from __future__ import annotations

import os

#: TensorFlow's C++ log threshold: 0 everything, 1 drops INFO, 2 drops WARNING too, 3 drops ERROR too.
QUIET_LEVEL = "1"


def _debugging() -> bool:
    return os.environ.get("SERBENCH_DEBUG", "").strip().lower() not in ("", "0", "false", "no")


def quiet_tensorflow_logs() -> bool:
    """Set TensorFlow's log thresholds (unless debugging); True when they were set here.

    Must run before ``import tensorflow``: the C++ runtime reads the variables once, when it loads.
    """
    if _debugging():
        return False
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", QUIET_LEVEL)
    # absl (used by TensorFlow's C++ and Python sides): only warnings and above.
    os.environ.setdefault("ABSL_MIN_LOG_LEVEL", QUIET_LEVEL)
    os.environ.setdefault("GRPC_VERBOSITY", "ERROR")
    return True
