"""Environment variables: an allowlist, secrets named but never valued, Terraform's TF_ ignored."""

from __future__ import annotations

from dldoctor.facts.env_vars import gather_env


def test_relevant_variables_are_kept_and_others_are_not_read():
    env = {
        "CUDA_VISIBLE_DEVICES": "0,1",
        "XLA_FLAGS": "--xla_gpu_autotune_level=0",
        "HOME": "/home/alice",
        "EDITOR": "vim",
        "AWS_REGION": "eu-west-1",
    }
    facts = gather_env(env)
    assert facts["variables"] == {
        "CUDA_VISIBLE_DEVICES": "0,1",
        "XLA_FLAGS": "--xla_gpu_autotune_level=0",
    }
    assert facts["withheld"] == []


def test_secret_looking_names_are_listed_without_their_values():
    env = {"NCCL_IB_KEY": "secret1", "PADDLE_AUTH_TOKEN": "secret2", "TORCH_HOME": "/data/torch"}
    facts = gather_env(env)
    assert facts["withheld"] == ["NCCL_IB_KEY", "PADDLE_AUTH_TOKEN"]
    assert "secret1" not in str(facts) and "secret2" not in str(facts)
    assert facts["variables"] == {"TORCH_HOME": "/data/torch"}


def test_terraform_variables_are_not_mistaken_for_tensorflow_ones():
    env = {
        "TF_VAR_db_url": "postgres://u:p@host/db",
        "TF_CLI_CONFIG_FILE": "/root/.terraformrc",
        "TF_TOKEN_app_terraform_io": "t0ken",
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "TF_USE_LEGACY_KERAS": "1",
    }
    facts = gather_env(env)
    assert facts["variables"] == {"TF_CPP_MIN_LOG_LEVEL": "2", "TF_USE_LEGACY_KERAS": "1"}
    assert facts["withheld"] == []
