"""Where transferkit meets Keras and its backends: choosing the backend, importing Keras, and backports of
Keras fixes that the released Keras lacks. Imports :mod:`transferkit.errors` and :mod:`transferkit.config`;
importing this package does not import Keras.
"""
