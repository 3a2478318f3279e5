"""Knowledge pipelines: documents extracted to markdown, split into chunks for embedding and retrieval."""
