"""Powertools logger and metrics, shared by every function. Tracing stays off the hot path unless enabled."""

from __future__ import annotations

import os
import warnings

from aws_lambda_powertools import Logger, Metrics

logger = Logger()
# The template sets POWERTOOLS_METRICS_NAMESPACE; the default keeps a function without it from failing at flush.
metrics = Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "GenAIPlatform"))
# Read routes emit no metric; Powertools would log a warning for each of those requests.
warnings.filterwarnings("ignore", message="No application metrics to publish", category=UserWarning)
