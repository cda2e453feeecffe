"""What is judged, as data: the check catalogue with its implementation registry
(:mod:`.checks`) and the provider profiles (:mod:`.profiles`). Imports nothing heavy."""
