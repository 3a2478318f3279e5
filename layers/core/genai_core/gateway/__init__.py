"""The model gateway: an OpenAI-compatible API over a catalogue of aliases, each an ordered list of provider targets.

`service.GatewayService` runs a call: limits, cache, prompt injection, the provider chain with retries, fallbacks and
cool-downs, then usage and cost. Providers (`providers/`) translate the OpenAI request shape to one backend each.
"""
