"""A small CPU PaddlePaddle training loop whose dataset sleeps a known time per item.

Times its own ``next()`` calls and each phase (forward with the loss, backward, optimizer step)
and writes the true fractions of the steps after the first to ``--truth``.
"""

import argparse
import json
import time

import numpy as np
import paddle
from paddle.io import DataLoader, Dataset


class SleepyDataset(Dataset):
    def __init__(self, items, sleep_s):
        super().__init__()
        self.items, self.sleep_s = items, sleep_s

    def __len__(self):
        return self.items

    def __getitem__(self, index):
        time.sleep(self.sleep_s)
        return np.full((64,), float(index % 7), np.float32), np.int64(index % 10)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=480)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--sleep-ms", type=float, default=1.5)
    parser.add_argument("--workers", type=int, default=0)
    parser.add_argument("--truth", default="")
    parser.add_argument("--scale-at", type=int, default=0, help="from this step the loss, so")
    parser.add_argument("--scale", type=float, default=1.0, help="every gradient, is × this")
    parser.add_argument("--nan-at", type=int, default=0, help="step whose loss becomes NaN")
    args = parser.parse_args()

    paddle.set_device("cpu")
    paddle.seed(0)
    model = paddle.nn.Sequential(
        paddle.nn.Linear(64, 256), paddle.nn.ReLU(), paddle.nn.Linear(256, 10)
    )
    optimizer = paddle.optimizer.SGD(learning_rate=0.01, parameters=model.parameters())
    loss_fn = paddle.nn.CrossEntropyLoss()
    loader = DataLoader(  # LOADER-LINE
        SleepyDataset(args.items, args.sleep_ms / 1e3),
        batch_size=args.batch,
        num_workers=args.workers,
    )

    wait = steps = 0
    phases = dict.fromkeys(("forward", "backward", "optimizer"), 0.0)
    started = time.perf_counter()
    iterator = iter(loader)
    while True:
        t0 = time.perf_counter()
        if steps == 1:  # the steady steps start here: the profile leaves the first one out
            started, wait, phases = t0, 0.0, dict.fromkeys(phases, 0.0)
        try:
            x, y = next(iterator)
        except StopIteration:
            wait += time.perf_counter() - t0
            break
        wait += time.perf_counter() - t0
        for _ in range(3):
            t0 = time.perf_counter()
            loss = loss_fn(model(x), y)  # the loss is a Layer too: forward
            if args.scale_at and steps + 1 >= args.scale_at:  # steps: those completed
                loss = loss * args.scale  # every gradient scales with it
            if args.nan_at and steps + 1 >= args.nan_at:
                loss = loss * float("nan")
            t1 = time.perf_counter()
            loss.backward()
            t2 = time.perf_counter()
            optimizer.step()
            t3 = time.perf_counter()
            optimizer.clear_grad()
            for name, seconds in zip(phases, (t1 - t0, t2 - t1, t3 - t2)):
                phases[name] += seconds
        steps += 1
    loop = time.perf_counter() - started
    if args.truth:
        with open(args.truth, "w") as f:
            shares = {k: v / loop for k, v in phases.items()}
            # steady: over the steps after the first, as the profile's steady_fraction
            truth = {"fraction": wait / loop, "steps": steps, "phases": shares, "steady": 1}
            json.dump(truth, f)


if __name__ == "__main__":
    main()
