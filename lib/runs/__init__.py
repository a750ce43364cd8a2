"""What `python -m lib` runs: one module per chapter, one interface.

Each module (`gan`, `vae`, `style`) defines `KINDS` (the names `python -m lib
train KIND` accepts), `add_arguments(parser)` for its own flags, and
`train(kind, run_dir, *, epochs, dataset, seed, resume, args)`,
`sample(run_dir, n, *, seed)` and `evaluate(run_dir, *, seed)`.
"""
