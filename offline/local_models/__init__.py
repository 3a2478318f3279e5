"""Models served by the offline runtime itself at `/local-models/v1`, for the gateway's OpenAI-compatible provider:
`offline-echo` (deterministic chat) and `minilm` (all-MiniLM-L6-v2 embeddings). onnxruntime, tokenizers, numpy
and tiktoken are imported on first use, so the runtime starts as fast without them.
"""

from offline.local_models.api import LocalModels

__all__ = ["LocalModels"]
