"""Activities: the only place that does I/O."""
