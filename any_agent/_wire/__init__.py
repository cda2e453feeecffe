"""Internal wire layer: HTTP transport, SSE framing, stream normalisation, request shaping."""
