"""A two-rank CPU DDP job (gloo) whose ranks' datasets sleep known, different times per batch.

Launched by torchrun (``--launcher torchrun``: this file is the rank), by
``torch.multiprocessing.spawn`` (``--launcher spawn``) or by plain ``multiprocessing`` with the
fork start method (``--launcher fork``). ``--slow-rank R --sleep-ms MS``: rank R's batches each
take MS longer to load; the other ranks' take none. Every rank writes its own truth
(``--truth DIR``): its steps and its measured data-wait fraction.
"""

import argparse
import json
import os
import socket
import sys
import time

import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import DataLoader, Dataset


class Sleepy(Dataset):
    def __init__(self, items, sleep_s):
        self.items, self.sleep_s = items, sleep_s

    def __len__(self):
        return self.items

    def __getitem__(self, index):
        if self.sleep_s:
            time.sleep(self.sleep_s)
        return torch.full((16,), float(index % 5)), index % 4


def train(rank, world, args, port):
    if not dist.is_initialized():
        os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
        os.environ.setdefault("MASTER_PORT", str(port))
        dist.init_process_group("gloo", rank=rank, world_size=world)
    torch.set_num_threads(1)
    torch.manual_seed(0)
    model = nn.parallel.DistributedDataParallel(nn.Linear(16, 4))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    sleep_s = args.sleep_ms / 1e3 if rank == args.slow_rank else 0.0
    # batch_size 1: the sleep is per batch, known exactly
    loader = DataLoader(Sleepy(args.steps, sleep_s), batch_size=1)  # LOADER-LINE
    wait = 0.0
    steps = 0
    started = time.perf_counter()
    iterator = iter(loader)
    while True:
        t0 = time.perf_counter()
        try:
            x, y = next(iterator)
        except StopIteration:
            wait += time.perf_counter() - t0
            break
        wait += time.perf_counter() - t0
        optimizer.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()  # all-reduce: the ranks meet here
        optimizer.step()
        steps += 1
    loop = time.perf_counter() - started
    if args.truth:
        with open(os.path.join(args.truth, f"rank{rank}.json"), "w") as f:
            json.dump({"pid": os.getpid(), "steps": steps, "fraction": wait / loop}, f)
    dist.destroy_process_group()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--launcher", choices=["torchrun", "spawn", "fork"], default="torchrun")
    parser.add_argument("--world", type=int, default=2)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--slow-rank", type=int, default=1)
    parser.add_argument("--sleep-ms", type=float, default=20.0)
    parser.add_argument("--truth", default="")
    args = parser.parse_args()
    if args.launcher == "torchrun":
        train(int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"]), args, 0)
    elif args.launcher == "spawn":
        import torch.multiprocessing as mp

        mp.spawn(train, args=(args.world, args, free_port()), nprocs=args.world)
    else:
        import multiprocessing

        context = multiprocessing.get_context("fork")
        port = free_port()
        procs = [
            context.Process(target=train, args=(r, args.world, args, port))
            for r in range(args.world)
        ]
        for p in procs:
            p.start()
        for p in procs:
            p.join()
        sys.exit(max(p.exitcode or 0 for p in procs))


if __name__ == "__main__":
    main()
