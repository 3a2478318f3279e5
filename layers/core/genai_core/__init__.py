"""Shared package of the GenAI platform: settings, AWS clients, errors, identity and API wiring.

Every Lambda function imports it from the `core` layer. Domain code here never imports HTTP frameworks;
the HTTP mapping lives in `genai_core.api` alone.
"""

__version__ = "0.1.0"
