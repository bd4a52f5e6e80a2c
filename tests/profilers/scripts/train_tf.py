"""A small CPU TensorFlow/Keras training run on a tf.data pipeline whose map sleeps per batch.

``--mode loop``: a custom loop over the dataset's iterator that times its own ``next()`` calls
and its compiled (``tf.function``) train step; ``--mode eager``: the same loop with the
GradientTape step in eager code, timing its forward (``--forward-sleep-ms``: a layer that sleeps
that long), backward (``tape.gradient``) and optimizer step (``apply_gradients``).
``--mode fit``: Keras ``fit``, where no Python code can time the fetch; the truth is the time
spent inside the map's Python function during the steps (one call per batch, the pipeline kept
synchronous: no fusion, no prefetch) over the steps' time, both from inside this run.
``--spe N``: ``steps_per_execution``; ``--val-items``/``--val-sleep-ms``: a validation set
whose batches sleep a known time (validation runs inside fit, before the epoch ends).
``--scale-at K --scale S``: from training step K the loss, so every gradient (the chain rule is
linear in the loss), is S times larger; ``--nan-at K``: from step K the loss is NaN; ``--jit``:
the train step compiled with XLA.
"""

import argparse
import json
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np
import tensorflow as tf

LOADING = [0.0]  # seconds spent inside load(), the pipeline's Python function
SCALE = tf.Variable(1.0, trainable=False)  # the loss's factor in the step running now


def scale_for(step):
    """The loss's factor at training step ``step`` (1-based)."""
    scale = ARGS.scale if ARGS.scale_at and step >= ARGS.scale_at else 1.0
    SCALE.assign(float("nan") if ARGS.nan_at and step >= ARGS.nan_at else scale)


def loader(sleep_ms):
    def load(indices):
        started = time.perf_counter()
        time.sleep(sleep_ms / 1e3 * len(indices))
        x = np.stack([np.full((64,), float(int(i) % 7), np.float32) for i in indices.numpy()])
        y = (indices.numpy() % 10).astype(np.int64)
        LOADING[0] += time.perf_counter() - started
        return x, y

    return load


def pipeline(items, batch, sleep_ms):
    load = loader(sleep_ms)

    def fetch(indices):
        x, y = tf.py_function(load, [indices], [tf.float32, tf.int64])
        x.set_shape((None, 64))
        y.set_shape((None,))
        return x, y

    ds = tf.data.Dataset.range(items).batch(batch).map(fetch)
    options = tf.data.Options()
    options.experimental_optimization.map_and_batch_fusion = False
    options.experimental_optimization.inject_prefetch = False
    return ds.with_options(options)


class StepClock(tf.keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.first = self.last = None
        self.loading = [0.0, 0.0]
        self.steps = 0

    def on_train_batch_begin(self, batch, logs=None):
        scale_for(batch + 1)
        if self.first is None:
            self.first, self.loading[0] = time.perf_counter(), LOADING[0]

    def on_train_batch_end(self, batch, logs=None):
        self.last, self.loading[1] = time.perf_counter(), LOADING[0]
        self.steps += 1


class Sleeping(tf.keras.layers.Layer):
    """A layer whose call sleeps a known time (eager: Python runs at every call)."""

    def __init__(self, sleep_s):
        super().__init__()
        self.sleep_s = sleep_s

    def call(self, x):
        time.sleep(self.sleep_s)
        return x


class PhaseClock:
    """The loop's own timing: data wait and each phase, over the steps after the first (the
    one that traces or builds: the profile leaves each pass's first step out too)."""

    def __init__(self):
        self.steps = 0
        self.wait = 0.0
        self.phases = {}
        self.started = self.batch = None

    def next_batch(self, iterator):
        t0 = time.perf_counter()
        if self.steps == 1:  # the first step is over: the steady steps start here
            self.started, self.wait, self.phases = t0, 0.0, {}
        try:
            self.batch = next(iterator)
        except StopIteration:
            self.batch = None
        self.wait += time.perf_counter() - t0
        if self.batch is not None:
            self.steps += 1
        return self.batch

    def timed(self, name, call, *args):
        t0 = time.perf_counter()
        value = call(*args)
        self.phases[name] = self.phases.get(name, 0.0) + time.perf_counter() - t0
        return value

    def truth(self):
        loop = time.perf_counter() - self.started
        phases = {k: v / loop for k, v in self.phases.items()}
        # steady: over the steps after the first, as the profile's steady_fraction
        return {"fraction": self.wait / loop, "steps": self.steps, "phases": phases, "steady": 1}


def main():
    tf.random.set_seed(0)
    model = tf.keras.Sequential(
        [
            tf.keras.Input((64,)),
            tf.keras.layers.Dense(256, activation="relu"),
            tf.keras.layers.Dense(10),
        ]
    )
    cross_entropy = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    def loss_fn(y, logits):
        return cross_entropy(y, logits) * SCALE

    ds = pipeline(ARGS.items, ARGS.batch, ARGS.sleep_ms)
    truth = {}
    if ARGS.mode == "fit":
        model.compile(
            optimizer="sgd", loss=loss_fn, steps_per_execution=ARGS.spe, jit_compile=ARGS.jit
        )
        clock = StepClock()
        val = pipeline(ARGS.val_items, ARGS.batch, ARGS.val_sleep_ms) if ARGS.val_items else None
        model.fit(ds, epochs=1, verbose=0, callbacks=[clock], validation_data=val)
        loop = clock.last - clock.first
        wait = clock.loading[1] - clock.loading[0]
        # on_train_batch_* run once per execution: steps_per_execution batches
        steps = clock.steps * ARGS.spe
        truth = {"wait_s": wait, "loop_s": loop, "fraction": wait / loop, "steps": steps}
    elif ARGS.mode == "loop":
        optimizer = tf.keras.optimizers.SGD()

        @tf.function(jit_compile=ARGS.jit)
        def train_step(x, y):
            with tf.GradientTape() as tape:
                loss = loss_fn(y, model(x, training=True))
            optimizer.apply_gradients(
                zip(tape.gradient(loss, model.trainable_variables), model.trainable_variables)
            )
            return loss

        clock = PhaseClock()
        iterator = iter(ds)
        while clock.next_batch(iterator) is not None:
            scale_for(clock.steps)
            clock.timed("compiled", train_step, *clock.batch)
        truth = clock.truth()
    else:  # eager: a GradientTape loop, each phase a Python call
        optimizer = tf.keras.optimizers.SGD()
        slow = Sleeping(ARGS.forward_sleep_ms / 1e3)
        clock = PhaseClock()
        iterator = iter(ds)
        while clock.next_batch(iterator) is not None:
            scale_for(clock.steps)
            x, y = clock.batch
            with tf.GradientTape() as tape:
                logits = clock.timed("forward", lambda x=x: model(slow(x), training=True))
                loss = loss_fn(y, logits)
            variables = model.trainable_variables
            grads = clock.timed("backward", tape.gradient, loss, variables)
            clock.timed("optimizer", optimizer.apply_gradients, zip(grads, variables))
        truth = clock.truth()
    if ARGS.truth:
        with open(ARGS.truth, "w") as f:
            json.dump(truth, f)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--mode", choices=["loop", "eager", "fit"], default="loop")
    parser.add_argument("--forward-sleep-ms", type=float, default=0.0)
    parser.add_argument("--items", type=int, default=480)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--sleep-ms", type=float, default=2.0)
    parser.add_argument("--spe", type=int, default=1, help="Keras steps_per_execution")
    parser.add_argument("--val-items", type=int, default=0)
    parser.add_argument("--val-sleep-ms", type=float, default=0.0)
    parser.add_argument("--truth", default="")
    parser.add_argument("--scale-at", type=int, default=0)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--jit", action="store_true")
    parser.add_argument("--nan-at", type=int, default=0, help="step whose loss becomes NaN")
    ARGS = parser.parse_args()
    main()
