"""Reports of a gated session: terminal table, JSON, Markdown (pull-request comment) and HTML."""
