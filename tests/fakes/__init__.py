"""Fakes that stand in for hardware at the boundary (the NVML module object)."""
