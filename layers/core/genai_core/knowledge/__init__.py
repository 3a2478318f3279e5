"""Knowledge pipelines: collections, documents, extraction, chunking, embedding, vector stores and search."""
