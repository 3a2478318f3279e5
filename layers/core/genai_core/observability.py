"""Powertools logger and metrics, shared by every function. Tracing stays off the hot path unless enabled."""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics

logger = Logger()
metrics = Metrics()
