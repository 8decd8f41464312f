"""ser-keras: the Keras training loop shared by serbench's neural model plugins.

A model plugin supplies ``build(n_classes, input_shape, settings) -> keras.Model`` and registers
``ModelSpec(create=keras_model_factory(build), defaults=training_defaults(...),
setting_types=TRAINING_SETTINGS, ...)``; :class:`KerasEstimator` trains it by the protocol (see
:mod:`ser_keras.training`). TensorFlow's thread settings, seeding (each estimator seeds Python,
NumPy and TensorFlow from the cell seed in ``ModelContext.seed``), the openSMILE import order and
quiet start-up (:mod:`ser_keras.quiet`) live here, so the core never imports or names Keras.

Importing this package is cheap: TensorFlow and Keras are imported when a model is first built.
TensorFlow is a dependency (the ``tensorflow`` wheel, which runs on the CPU anywhere; the ``gpu``
extra adds the CUDA libraries for an NVIDIA GPU). If it is missing anyway (installed with
``--no-deps``, or removed), building a model says what to install instead of failing with a traceback.
"""

from ser_keras import training
from ser_keras.training import *  # noqa: F401,F403  (the public names, listed in training.__all__)

__all__ = list(training.__all__)
