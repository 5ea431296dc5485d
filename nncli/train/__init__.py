"""Training: the loop (a generator of events) and the run that drives it."""
