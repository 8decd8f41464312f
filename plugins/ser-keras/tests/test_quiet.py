"""TensorFlow's start-up chatter is filtered; its warnings and errors, and everything under
``--verbose``, are not."""

from __future__ import annotations

import os
import subprocess
import sys

from ser_keras.quiet import is_chatter

CHATTER = [
    "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR",
    "I0000 00:00:1796013910.504867   14159 port.cc:153] oneDNN custom operations are on. You may see ...",
    "I0000 00:00:1796013910.688671   14159 cpu_feature_guard.cc:227] This TensorFlow binary is optimized ...",
    "To enable the following instructions: AVX2 FMA, in other operations, rebuild TensorFlow with the "
    "appropriate compiler flags.",
]
KEPT = [
    "W0000 00:00:1796013910.504867   14159 gpu_device.cc:2] Cannot dlopen some GPU libraries.",
    "E0000 00:00:1796013910.504867   14159 cuda_dnn.cc:8] Unable to register cuDNN factory",
    "WARNING:tensorflow:5 out of the last 5 calls to <function> triggered tf.function retracing.",
    "I am a line a plugin printed on purpose",
]


def test_only_informational_start_up_lines_are_chatter():
    assert all(is_chatter(line) for line in CHATTER)
    assert not any(is_chatter(line) for line in KEPT)


PROBE = """
import os, sys
from ser_keras.quiet import filtered_stderr
with filtered_stderr():
    for line in sys.argv[1:]:
        os.write(2, (line + "\\n").encode())  # as C++ code writes: straight to file descriptor 2
print("done", file=sys.stderr)
"""


def test_filtered_stderr_drops_chatter_and_keeps_warnings_at_the_descriptor_level():
    env = {k: v for k, v in os.environ.items() if k not in ("SERBENCH_DEBUG", "SERBENCH_VERBOSE")}
    out = subprocess.run([sys.executable, "-c", PROBE, *CHATTER, *KEPT], capture_output=True, text=True,
                         env=env, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stderr.splitlines() == [*KEPT, "done"]


#: Lines in TensorFlow's formats, written to file descriptor 2 while ``import tensorflow`` runs (from an
#: audit hook on that import), as its C++ runtime writes its start-up lines. Whether the real TensorFlow
#: prints any depends on the CPU (no oneDNN line on some), so the tests assert on these.
TF_IMPORT_PROBE = """
import os, sys

LINES = sys.argv[1:]


def hook(event, args):
    if event == "import" and args and args[0] == "tensorflow" and LINES:
        os.write(2, "".join(line + "\\n" for line in LINES).encode())
        LINES.clear()


sys.addaudithook(hook)
from ser_keras import configure_tensorflow

configure_tensorflow()
print("ok")
"""


def test_importing_tensorflow_through_ser_keras_prints_no_chatter_unless_debugging():
    """The start-up lines written while TensorFlow loads are filtered (warnings kept); under
    ``--verbose`` (``SERBENCH_VERBOSE``) every line passes. Whatever this CPU makes TensorFlow print."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("SERBENCH_DEBUG", "SERBENCH_VERBOSE", "TF_CPP_MIN_LOG_LEVEL")}
    written = [CHATTER[1], KEPT[0]]
    args = [sys.executable, "-c", TF_IMPORT_PROBE, *written]
    quiet = subprocess.run(args, capture_output=True, text=True, env=env, timeout=120)
    assert quiet.returncode == 0 and quiet.stdout.strip() == "ok", quiet.stderr
    assert KEPT[0] in quiet.stderr.splitlines(), "a warning written while TensorFlow loads is kept"
    assert not any(is_chatter(line) for line in quiet.stderr.splitlines()), quiet.stderr
    assert "oneDNN" not in quiet.stderr and "absl::InitializeLog" not in quiet.stderr
    from ser_keras.quiet import has_gpu_device_node

    if not has_gpu_device_node():
        assert "cuInit" not in quiet.stderr, quiet.stderr
    loud = subprocess.run(args, capture_output=True, text=True, env={**env, "SERBENCH_VERBOSE": "1"}, timeout=120)
    assert loud.returncode == 0, loud.stderr
    assert all(line in loud.stderr.splitlines() for line in written), "under --verbose nothing is filtered"


NO_GPU = ("E0000 00:00:1796023890.884689   19732 cuda_platform.cc:52] failed call to cuInit: INTERNAL: CUDA "
          "error: Failed call to cuInit: UNKNOWN ERROR (303)")

GPU_PROBE = """
import os, sys
import ser_keras.quiet as quiet
quiet.has_gpu_device_node = lambda: sys.argv[1] == "node"
with quiet.gpu_probe():
    for line in sys.argv[2:]:
        os.write(2, (line + "\\n").encode())
"""


def test_the_no_driver_error_is_dropped_only_where_there_is_no_gpu_device():
    """TensorFlow's "failed call to cuInit" on a machine without a GPU says nothing to act on; on a
    machine with an NVIDIA device node it explains why the GPU is unused, so it stays."""
    from ser_keras.quiet import is_no_gpu_noise

    assert is_no_gpu_noise(NO_GPU) and not is_no_gpu_noise(KEPT[1]) and not is_chatter(NO_GPU)
    env = {k: v for k, v in os.environ.items() if k not in ("SERBENCH_DEBUG", "SERBENCH_VERBOSE")}
    lines = [NO_GPU, KEPT[0]]
    without = subprocess.run([sys.executable, "-c", GPU_PROBE, "none", *lines], capture_output=True, text=True,
                             env=env, timeout=60)
    assert without.stderr.splitlines() == [KEPT[0]]
    with_node = subprocess.run([sys.executable, "-c", GPU_PROBE, "node", *lines], capture_output=True,
                               text=True, env=env, timeout=60)
    assert with_node.stderr.splitlines() == lines
    verbose = subprocess.run([sys.executable, "-c", GPU_PROBE, "none", *lines], capture_output=True,
                             text=True, env={**env, "SERBENCH_VERBOSE": "1"}, timeout=60)
    assert verbose.stderr.splitlines() == lines


def test_per_fold_prediction_retracing_warnings_are_dropped_and_others_kept(caplog):
    """Each fold's model makes its own prediction function, which trips TensorFlow's "tf.function
    created in a loop" warning in a worker running many folds: dropped. Other retracing warnings stay."""
    import logging

    from ser_keras import configure_tensorflow

    configure_tensorflow()  # installs the filter on TensorFlow's logger
    logger = logging.getLogger("tensorflow")
    per_fold = ("5 out of the last 11 calls to <function KerasEstimator.predict_scores.<locals>.<lambda> at "
                "0x7fe17c802c00> triggered tf.function retracing. Tracing is expensive ...")
    other = "5 out of the last 5 calls to <function my_step at 0x1> triggered tf.function retracing."
    with caplog.at_level(logging.WARNING, logger="tensorflow"):
        logger.warning(per_fold)
        logger.warning(other)
    assert [r.getMessage() for r in caplog.records] == [other]
