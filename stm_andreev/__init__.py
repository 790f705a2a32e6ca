"""stm-andreev: acquisition framework for dilution-fridge STM tunnelling and Andreev spectroscopy."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("stm-andreev")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"
