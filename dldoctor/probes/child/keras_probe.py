"""Keras 3 probe (child side): the active backend, and a layer and a fit on its default device."""

# Runs inside the probe child (see harness.py): standard library + keras (and its backend and
# numpy) only, Python 3.6 syntax. When Keras's backend is another framework that is probed too,
# this runs in that framework's child, after it: the backend is imported once, not twice.
import contextlib
import importlib
from typing import Any, Dict, List

JSON = Dict[str, Any]


def probe(ctx: Any) -> None:
    keras = ctx.import_module("keras")
    if keras is None:
        return
    where = ["default"]  # the backend's default device, named once a tensor says which it is
    ctx.facts_phase(lambda: _gather(ctx, keras, where))
    ctx.smoke("layer", where[0], lambda: _layer(ctx, keras))
    ctx.smoke("train", where[0], lambda: _fit(ctx, keras))


def _gather(ctx: Any, keras: Any, where: List[str]) -> None:
    ctx.fact("version", lambda: str(keras.__version__))
    ctx.fact("backend", keras.backend.backend)
    ctx.fact("config_file", lambda: _config_file(keras))
    with contextlib.suppress(Exception):  # a backend this cannot read: its default, unnamed
        where[0] = _default_device(keras)
    ctx.device(id=where[0], kind="backend default")


def _default_device(keras: Any) -> str:
    """Where the backend puts a new tensor, named as that framework's own probe names it."""
    tensor = keras.ops.zeros((1,))
    backend = keras.backend.backend()
    if backend == "jax":
        device = next(iter(tensor.devices()))
        return "cpu" if device.platform == "cpu" else "%s:%d" % (device.platform, device.id)
    if backend == "torch":
        return str(tensor.device)  # "cpu", "cuda:0"
    if backend == "tensorflow":  # "/job:localhost/replica:0/task:0/device:GPU:0"
        kind, _, index = str(tensor.device).rpartition("device:")[2].partition(":")
        return "cpu" if kind.lower() == "cpu" else "%s:%s" % (kind.lower(), index or "0")
    return "default"


def _config_file(keras: Any) -> Any:
    config = importlib.import_module("keras.src.backend.config")
    return getattr(config, "_KERAS_DIR", None)


def _layer(ctx: Any, keras: Any) -> JSON:
    np = importlib.import_module("numpy")
    layer = keras.layers.Dense(1)
    layer.build((None, 1))
    layer.set_weights([np.array([[3.0]], dtype="float32"), np.array([1.0], dtype="float32")])
    got = np.asarray(keras.ops.convert_to_numpy(layer(np.array([[1.0], [2.0]], "float32"))))
    result = ctx.close([float(v) for v in got[:, 0]], [4.0, 7.0], 1e-4)
    result["detail"] = "Dense(1) with w=3, b=1 at x=[1, 2]"
    return result


def _fit(ctx: Any, keras: Any) -> JSON:
    np = importlib.import_module("numpy")
    xs, ys = ctx.train_data()
    x = np.tile(np.array(xs, dtype="float32"), ctx.TRAIN_STEPS)[:, None]
    y = np.tile(np.array(ys, dtype="float32"), ctx.TRAIN_STEPS)[:, None]
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1, kernel_initializer="zeros")])
    model.compile(optimizer=keras.optimizers.SGD(ctx.TRAIN_LR), loss="mse")
    model.fit(x, y, epochs=1, batch_size=len(xs), shuffle=False, verbose=0)
    w, b = model.get_weights()
    return ctx.train_result(float(w[0][0]), float(b[0]), "model.fit, SGD")
