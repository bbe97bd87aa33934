"""The Insight dashboard's TensorBoard side: plugin ``insight``, viewer JSON, frontend.

A package of its own (not under ``keras_insight``) because TensorBoard imports its
plugins at start-up and ``import keras_insight`` imports Keras: a plugin must import only
``tensorboard`` and the standard library, so that a broken Keras install cannot take
TensorBoard down. The writers live in :mod:`keras_insight.dashboard`.
"""
