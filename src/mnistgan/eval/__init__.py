"""Evaluation. The modules that define metrics are imported here, in the order their metrics
are shown, so that importing anything under mnistgan.eval registers every metric
(eval/registry.py). A new metric's module is one more line."""

from mnistgan.eval import scores  # noqa: F401, I001  (each registers its metrics on import)
from mnistgan.eval import conditional  # noqa: F401
from mnistgan.eval import modes  # noqa: F401
