"""How one (check, layer) runs: the context a check gets (:mod:`.context`), the outcome rules
(:mod:`.runner`), the raw HTTP client (:mod:`.http`), the strict stream reader
(:mod:`.stream`) and cassettes and manifests (:mod:`.recording`)."""
