"""naravard_analysis: measure Sweden's shift to nära vård from health-register data.

Layers import downward only: ``report`` -> ``methods`` -> ``indicators`` -> ``data``.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("naravard_analysis")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
