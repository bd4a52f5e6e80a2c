"""Code that runs inside the profiled interpreter: stdlib only, imported before the script.

Framework patches (``torch_patch``, ``tf_patch``, ``keras_patch``, ``paddle_patch``) are applied
by a post-import hook only when the script itself imports the framework.
"""
