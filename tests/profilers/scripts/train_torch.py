"""A small CPU PyTorch training loop whose dataset sleeps a known time per item.

It times its own ``next()`` calls and writes the true data-wait fraction to ``--truth``, so a
profile can be checked against it. Extra switches make it fail, exit, fork or mark steps.
"""

import argparse
import json
import os
import sys
import time

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset


class SleepyDataset(Dataset):
    def __init__(self, items: int, sleep_s: float, worker_sleep_s: float = 0.0) -> None:
        self.items, self.sleep_s, self.worker_sleep_s = items, sleep_s, worker_sleep_s

    def __len__(self) -> int:
        return self.items

    def __getitem__(self, index: int):
        if self.sleep_s:
            time.sleep(self.sleep_s)
        if self.worker_sleep_s and torch.utils.data.get_worker_info() is not None:
            time.sleep(self.worker_sleep_s)  # slower in a loader worker than in the loop
        return torch.full((64,), float(index % 7)), index % 10


class SlowStartSampler(torch.utils.data.Sampler):
    """Sequential, but each pass starts after a known sleep: time spent inside iter(loader)."""

    def __init__(self, items: int, sleep_s: float) -> None:
        self.items, self.sleep_s = items, sleep_s

    def __len__(self) -> int:
        return self.items

    def __iter__(self):
        time.sleep(self.sleep_s)
        return iter(range(self.items))


class SlowBatchSampler(torch.utils.data.Sampler):
    """Batches of consecutive indices, each taking a known sleep to choose: a per-batch cost
    in the main process (DataLoader asks its batch sampler there), which workers cannot hide."""

    def __init__(self, items: int, batch: int, sleep_s: float) -> None:
        self.items, self.batch, self.sleep_s = items, batch, sleep_s

    def __len__(self) -> int:
        return -(-self.items // self.batch)

    def __iter__(self):
        for start in range(0, self.items, self.batch):
            time.sleep(self.sleep_s)
            yield list(range(start, min(start + self.batch, self.items)))


def preprocess(x, seconds):
    """Per-batch Python work in the loop body, a known time of pure CPU."""
    end = time.perf_counter() + seconds
    total = 0
    while time.perf_counter() < end:  # PREPROCESS-LINE
        total += 1
    return x


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=800)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--sleep-ms", type=float, default=1.0)
    parser.add_argument("--workers", type=int, default=0)
    parser.add_argument("--worker-sleep-ms", type=float, default=0.0)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--width", type=int, default=256)
    parser.add_argument("--truth", default="")
    parser.add_argument("--val-items", type=int, default=0)
    parser.add_argument("--preprocess-ms", type=float, default=0.0)
    parser.add_argument("--batch-sampler-sleep-ms", type=float, default=0.0)
    parser.add_argument("--nan-at", type=int, default=0, help="step whose loss becomes NaN")
    parser.add_argument("--scale-at", type=int, default=0, help="from this step the loss, so")
    parser.add_argument("--scale", type=float, default=1.0, help="every gradient, is × this")
    parser.add_argument("--val-sleep-ms", type=float, default=0.0)
    parser.add_argument("--iter-sleep-ms", type=float, default=0.0)
    parser.add_argument("--raise-after", type=int, default=0)
    parser.add_argument("--exit-code", type=int, default=0)
    parser.add_argument("--mark-steps", action="store_true")
    parser.add_argument("--fork", action="store_true")
    parser.add_argument("--announce", action="store_true")
    args = parser.parse_args()

    torch.manual_seed(0)
    torch.set_num_threads(1)
    model = nn.Sequential(
        nn.Linear(64, args.width),
        nn.ReLU(),
        nn.Linear(args.width, args.width),
        nn.ReLU(),
        nn.Linear(args.width, 10),
    )
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    loss_fn = nn.CrossEntropyLoss()
    sampler = SlowStartSampler(args.items, args.iter_sleep_ms / 1e3) if args.iter_sleep_ms else None
    if args.batch_sampler_sleep_ms:
        sleep_s = args.batch_sampler_sleep_ms / 1e3
        batching = {"batch_sampler": SlowBatchSampler(args.items, args.batch, sleep_s)}
    else:
        batching = {"batch_size": args.batch, "sampler": sampler}
    loader = DataLoader(  # LOADER-LINE
        SleepyDataset(args.items, args.sleep_ms / 1e3, args.worker_sleep_ms / 1e3),
        num_workers=args.workers,
        **batching,
    )
    if args.val_items:
        val_loader = DataLoader(SleepyDataset(args.val_items, args.val_sleep_ms / 1e3), args.batch)

    if args.fork:
        pid = os.fork()
        if pid == 0:  # a helper process that also marks a few steps, then leaves
            import dldoctor

            for _ in range(15):  # 0.3 s: long enough for some of its events to be flushed
                time.sleep(0.02)
                dldoctor.step()
            os._exit(0)

    wait = steps = 0.0
    started = time.perf_counter()
    iter_s = preprocess_s = 0.0
    for _ in range(args.epochs):
        t0 = time.perf_counter()
        iterator = iter(loader)
        iter_s += time.perf_counter() - t0
        wait += time.perf_counter() - t0
        while True:
            t0 = time.perf_counter()
            try:
                x, y = next(iterator)
            except StopIteration:
                wait += time.perf_counter() - t0
                break
            wait += time.perf_counter() - t0
            if args.preprocess_ms:
                t0 = time.perf_counter()
                x = preprocess(x, args.preprocess_ms / 1e3)
                preprocess_s += time.perf_counter() - t0
            for _ in range(3):
                optimizer.zero_grad()
                loss = loss_fn(model(x.repeat(8, 1)), y.repeat(8))
                if args.nan_at and steps + 1 >= args.nan_at:  # steps: those completed
                    loss = loss * float("nan")
                if args.scale_at and steps + 1 >= args.scale_at:  # gradients scale with it
                    loss = loss * args.scale
                loss.backward()
                optimizer.step()
            steps += 1
            if args.mark_steps:
                import dldoctor

                dldoctor.step()
            if args.announce and steps == 5:
                print("TRAINING", flush=True)
            if args.raise_after and steps == args.raise_after:
                raise RuntimeError(f"boom after {int(steps)} steps")
        if args.val_items:  # validation after each epoch, gradients off, as usual
            model.eval()
            with torch.no_grad():
                for x, _ in val_loader:
                    model(x)
            model.train()
    loop = time.perf_counter() - started
    if args.fork:
        os.waitpid(pid, 0)
    if args.truth:
        with open(args.truth, "w") as f:
            json.dump(
                {
                    "wait_s": wait,
                    "loop_s": loop,
                    "fraction": wait / loop,
                    "steps": steps,
                    "iter_s": iter_s,
                    "preprocess_fraction": preprocess_s / loop,
                },
                f,
            )
    return args.exit_code


if __name__ == "__main__":
    sys.exit(main())
