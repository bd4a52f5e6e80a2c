"""The environment variables that change how deep-learning stacks behave, secrets withheld.

An allowlist, not a blocklist: only names known to matter are read at all, and among those any
whose name looks secret has its value withheld (never written anywhere, redacted or not); the
others lose URL credentials and token shapes (a proxy's `user:pass@`) the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dldoctor.facts.withhold import looks_secret, withhold

__all__ = ["gather_env", "is_relevant", "looks_secret"]

_EXACT = frozenset(
    {
        "CUDA_VISIBLE_DEVICES",
        "CUDA_DEVICE_ORDER",
        "CUDA_HOME",
        "CUDA_PATH",
        "CUDA_ROOT",
        "CUDA_MODULE_LOADING",
        "CUDA_LAUNCH_BLOCKING",
        "CUDA_FORCE_PTX_JIT",
        "CUDA_CACHE_PATH",
        "CUDA_CACHE_DISABLE",
        "CUDNN_PATH",
        "LD_LIBRARY_PATH",
        "LD_PRELOAD",
        "LIBRARY_PATH",
        "PATH",
        "PYTHONPATH",
        "PYTHONHOME",
        "PYTHONNOUSERSITE",
        "VIRTUAL_ENV",
        "CONDA_PREFIX",
        "CONDA_DEFAULT_ENV",
        "XLA_FLAGS",
        "XLA_PYTHON_CLIENT_PREALLOCATE",
        "XLA_PYTHON_CLIENT_MEM_FRACTION",
        "XLA_PYTHON_CLIENT_ALLOCATOR",
        "KERAS_BACKEND",
        "KERAS_HOME",
        "OMP_NUM_THREADS",
        "MKL_NUM_THREADS",
        "OPENBLAS_NUM_THREADS",
        "NVIDIA_VISIBLE_DEVICES",
        "NVIDIA_DRIVER_CAPABILITIES",
        "HIP_VISIBLE_DEVICES",
        "ROCR_VISIBLE_DEVICES",
        "ROCM_PATH",
        "HSA_OVERRIDE_GFX_VERSION",
        "TORCH_CUDA_ARCH_LIST",
        "TORCH_HOME",
        "TORCHINDUCTOR_CACHE_DIR",
        "TRITON_CACHE_DIR",
        "ZE_AFFINITY_MASK",
        "ONEAPI_DEVICE_SELECTOR",
        "SLURM_JOB_ID",
        "SLURM_NTASKS",
        "WORLD_SIZE",
        "RANK",
        "LOCAL_RANK",
        "MASTER_ADDR",
        "MASTER_PORT",
        # Where pip and the model hubs download from: the index decides which build of a
        # framework `pip install` picks (a mirror may have no CUDA wheels).
        "PIP_INDEX_URL",
        "PIP_EXTRA_INDEX_URL",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "NO_PROXY",
        "http_proxy",
        "https_proxy",
        "all_proxy",
        "no_proxy",
    }
)
_PREFIXES = (
    "TF_",
    "PYTORCH_",
    "TORCH_",
    "NCCL_",
    "GLOO_",  # torch.distributed's CPU backend (GLOO_SOCKET_IFNAME)
    "UCX_",  # UCX and libfabric carry NCCL's network plugins and MPI (AWS EFA: FI_PROVIDER)
    "FI_",
    "JAX_",
    "XLA_",
    "FLAGS_",
    "PADDLE_",
    "ORT_",
    "CUDNN_",
    "CUBLAS_",
    "NVIDIA_",
    "MIOPEN_",
    "HSA_",
)
# Terraform also uses TF_ (TF_VAR_* often hold credentials): never TensorFlow's, never read.
_TERRAFORM = (
    "TF_VAR_",
    "TF_CLI_",
    "TF_LOG",
    "TF_INPUT",
    "TF_IN_AUTOMATION",
    "TF_WORKSPACE",
    "TF_DATA_DIR",
    "TF_PLUGIN_CACHE",
    "TF_REGISTRY_",
    "TF_TOKEN_",
    "TF_STATE",
    "TF_IGNORE",
    "TF_REATTACH_PROVIDERS",
    "TF_APPEND_USER_AGENT",
    "TF_SKIP_",
)


def is_relevant(name: str) -> bool:
    if name.startswith(_TERRAFORM):
        return False
    return name in _EXACT or name.startswith(_PREFIXES)


def gather_env(env: Mapping[str, str]) -> dict[str, Any]:
    """The relevant variables (sorted), and the names of those whose values were withheld."""
    variables: dict[str, str] = {}
    withheld: list[str] = []
    for name in sorted(env):
        if not is_relevant(name):
            continue
        if looks_secret(name):
            withheld.append(name)
        else:
            variables[name] = withhold(env[name])
    return {"variables": variables, "withheld": withheld}
