"""Never touches a framework: reports what it sees, then marks steps, exits, raises or dies.

Switches: --stdin (echo a line of stdin), --sleep S, --steps N --step-ms MS [--busy]
(N dldoctor.step() marks, each step sleeping or, with --busy, computing), --forever (steps
until stopped), --raise, --exit CODE, --kill (SIGKILL itself).
"""

import json
import os
import signal
import sys
import time


def option(name, default=None):
    return sys.argv[sys.argv.index(name) + 1] if name in sys.argv else default


def describe():
    return {
        "argv": sys.argv,
        "path0": sys.path[0],
        "file": __file__,
        "name": __name__,
        "cwd": os.getcwd(),
        "dldoctor_env": sorted(k for k in os.environ if k.startswith("DLDOCTOR")),
        "path": sys.path,
        "sitecustomize": getattr(sys.modules.get("sitecustomize"), "__file__", None),
        "stdin": sys.stdin.readline().strip() if "--stdin" in sys.argv else None,
        "main_module_file": getattr(sys.modules["__main__"], "__file__", None),
        "frameworks_loaded": sorted(
            m for m in ("torch", "tensorflow", "paddle", "jax") if m in sys.modules
        ),
    }


def steps(count, step_s, busy):
    import dldoctor

    done = 0
    while count is None or done < count:
        if busy:
            end = time.perf_counter() + step_s
            while time.perf_counter() < end:
                pass
        else:
            time.sleep(step_s)
        dldoctor.step()
        done += 1
        if done == 3:
            print("TRAINING", flush=True)


if __name__ == "__main__":
    print(json.dumps(describe()), flush=True)
    if "--sleep" in sys.argv:
        time.sleep(float(option("--sleep")))
    if "--steps" in sys.argv or "--forever" in sys.argv:
        count = None if "--forever" in sys.argv else int(option("--steps"))
        steps(count, float(option("--step-ms", "20")) / 1e3, "--busy" in sys.argv)
    if "--raise" in sys.argv:
        raise ValueError("plain failure")
    if "--kill" in sys.argv:
        os.kill(os.getpid(), signal.SIGKILL)
    if "--exit" in sys.argv:
        sys.exit(int(option("--exit")))
