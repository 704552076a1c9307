"""The machine a benchmark ran on, in words: CPU model and threads, or the GPU's name."""

import platform
from pathlib import Path

import torch


def describe(device=None):
    if device is not None and device.type == "cuda":
        return torch.cuda.get_device_name(device)
    cpuinfo = Path("/proc/cpuinfo")
    lines = cpuinfo.read_text().splitlines() if cpuinfo.exists() else []
    model = next((line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")),
                 platform.processor() or platform.machine())
    return f"{model}, {torch.get_num_threads()} threads"
