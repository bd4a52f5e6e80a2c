"""Runtime probes: each framework, in its own child process, says what it sees and computes."""
