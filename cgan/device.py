"""The device a run trains or measures on: the one asked for, or the best there is; whether it does bf16 natively; and
what it is, in words, for the records."""

import platform
from pathlib import Path

import torch


def native_bf16(device):
    """Whether `device` does bf16 arithmetic in hardware, where training under bf16 autocast is faster than in fp32:
    a CUDA GPU with bf16, or a CPU with Intel's AMX. On the 2-core Xeon with AMX a training step of the CPU recipe
    ran 1.5x as fast as in fp32 (docs/training-notes.md). A CPU without AMX has no bf16 matrix unit: it trains in fp32."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    if device.type == "cpu" and hasattr(torch.cpu, "get_capabilities"):  # recent torch; an older one stays in fp32
        return bool(torch.cpu.get_capabilities().get("amx_bf16"))
    return False


def check_bf16(device, bf16):
    """ValueError where bf16 training was asked for on a device that cannot do it."""
    if bf16 and device.type == "mps":
        raise ValueError("bf16 is for a CUDA GPU or a CPU; on mps train without it (--no-bf16)")
    if bf16 and device.type == "cuda" and not torch.cuda.is_bf16_supported():
        raise ValueError(f"bf16 was asked for, but {torch.cuda.get_device_name(device)} has no bf16: "
                         f"train without it (--no-bf16)")


def pick_device(name):
    """The torch.device for `name` ("auto": a CUDA GPU, else Apple's MPS, else the CPU); ValueError naming a device
    that was asked for and is not there."""
    if name != "auto":
        if name == "cuda" and not torch.cuda.is_available():
            raise ValueError("device 'cuda' was asked for but no CUDA GPU is available; use --device auto or cpu")
        if name == "mps" and not torch.backends.mps.is_available():
            raise ValueError("device 'mps' was asked for but MPS is not available; use --device auto or cpu")
        if name not in ("cpu", "cuda", "mps"):
            raise ValueError(f"device must be auto, cpu, cuda or mps, got {name!r}")
        return torch.device(name)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def describe(device=None):
    """The machine in words: the GPU's name for a CUDA device, else the CPU's model and the threads torch uses."""
    if device is not None and torch.device(device).type == "cuda":
        return torch.cuda.get_device_name(device)
    cpuinfo = Path("/proc/cpuinfo")
    lines = cpuinfo.read_text().splitlines() if cpuinfo.exists() else []
    model = next((line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")),
                 platform.processor() or platform.machine())
    return f"{model}, {torch.get_num_threads()} threads"
