"""Building blocks shared by every model: layers, norms, position encodings, losses."""
