"""Vector stores: per-collection indexes of document chunks, searched by vector, by BM25 or both (hybrid).

`base` holds the interface every store implements and the fusion that makes hybrid search behave the same on every
backend; `sqlite` is the embedded store of the offline runtime (sqlite-vec + FTS5 in one file).
"""
