"""Pure logic of the worker's jobs: no I/O, no clock reads, no globals."""
