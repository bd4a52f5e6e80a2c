"""Fixes: turn an intent ("install torch 2.13.0 for CUDA 13.0") into this machine's commands."""
