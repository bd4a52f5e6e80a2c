"""Extension probe (child side): import one extension library after its framework, one small call."""

# Runs inside the probe child (see harness.py): standard library + the extension only, Python 3.6
# syntax. The options name the module, what to import before it (torch: an extension's compiled
# code resolves torch's symbols, which only an imported torch has loaded) and the call to make.
import importlib
from typing import Any

# torchvision.ops.nms of three boxes (x1, y1, x2, y2): the first two overlap with IoU
# 81/119 ≈ 0.68, the third overlaps neither. At IoU threshold 0.5 the second is suppressed,
# at 0.75 it is kept: a wrong overlap or a wrong comparison gives other indices.
NMS_BOXES = [[0.0, 0.0, 10.0, 10.0], [1.0, 1.0, 11.0, 11.0], [20.0, 20.0, 30.0, 30.0]]
NMS_SCORES = [0.9, 0.8, 0.7]
NMS_EXPECTED = {"0.5": [0, 2], "0.75": [0, 1, 2]}
TRITON_SIZE = 1024


def probe(ctx: Any) -> None:
    for name in ctx.options.get("after") or []:
        if ctx.import_module(name, companion=True) is None:
            return  # the framework's own probe reports why it does not import
    module = ctx.import_module(str(ctx.options.get("module")))
    if module is None:
        return
    call = ctx.options.get("call")
    if call == "torchvision-nms":
        ctx.smoke("nms", "cpu", lambda: _nms(ctx))
    elif call == "triton-kernel":
        ctx.smoke("kernel-compile", "cuda", lambda: _triton(ctx, module))


def _nms(ctx: Any) -> Any:
    import torch

    nms = importlib.import_module("torchvision.ops").nms
    boxes = torch.tensor(NMS_BOXES, dtype=torch.float32)
    scores = torch.tensor(NMS_SCORES, dtype=torch.float32)
    got = {t: [int(i) for i in nms(boxes, scores, float(t)).tolist()] for t in NMS_EXPECTED}
    return {
        "ok": got == NMS_EXPECTED,
        "expected": NMS_EXPECTED,
        "got": got,
        "detail": "torchvision.ops.nms of 3 CPU boxes at IoU thresholds 0.5 and 0.75",
    }


def _triton(ctx: Any, triton: Any) -> Any:
    """A vector add compiled by triton and run on the GPU (triton compiles only for a GPU)."""
    import torch

    if not torch.cuda.is_available():
        raise ctx.Skip("no CUDA GPU visible to torch: a triton kernel compiles only for one")
    tl = importlib.import_module("triton.language")

    # triton reads the kernel's source (inspect; the harness put it in linecache) and its
    # annotations: BLOCK must be annotated tl.constexpr itself, not a string.
    @triton.jit
    def add(x_ptr, y_ptr, out_ptr, n, BLOCK: tl.constexpr):  # type: ignore[no-untyped-def,name-defined]
        offsets = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
        mask = offsets < n
        x = tl.load(x_ptr + offsets, mask=mask)
        tl.store(out_ptr + offsets, x + tl.load(y_ptr + offsets, mask=mask), mask=mask)

    x = torch.arange(TRITON_SIZE, dtype=torch.float32, device="cuda")
    y = torch.full((TRITON_SIZE,), 2.0, device="cuda")
    out = torch.empty_like(x)
    add[(TRITON_SIZE // 256,)](x, y, out, TRITON_SIZE, BLOCK=256)
    torch.cuda.synchronize()
    got = out.cpu().tolist()
    wrong = [i for i, v in enumerate(got) if v != float(i) + 2.0]
    return {
        "ok": not wrong,
        "expected": "x + 2 for x = 0..%d" % (TRITON_SIZE - 1),
        "got": "%d of %d elements wrong" % (len(wrong), TRITON_SIZE),
        "detail": "a triton vector add (%d float32, blocks of 256) compiled and run" % TRITON_SIZE,
    }
