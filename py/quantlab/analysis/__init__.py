"""What the variants do: the one load -> predict loop (evaluate) on evaluator pools (pool, pool_ray),
`analyze MODEL`, cross-runtime parity, per-tensor weight error, the mixed-precision tune (sweep,
search, tune, tune_model) and delivery (bytes over the wire, browser load times)."""
