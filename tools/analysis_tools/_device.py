"""``--device`` for the benchmark scripts: the argument, a caption, timing with a GPU's peak."""
import platform

import torch

from mmcoc.deployment.measure import time_and_peak
from mmcoc.utils import cli


def add_device_argument(parser):
    parser.add_argument('--device', default='cpu', type=cli.device,
                        help='cpu (default) or cuda[:N]; on a GPU the peak column is the GPU '
                        "allocator's high-water mark")


def check_device(device: str):
    if device.startswith('cuda') and not torch.cuda.is_available():
        raise SystemExit(f'--device {device}: CUDA is not available here')


def describe(device: str) -> str:
    check_device(device)
    if device.startswith('cuda'):
        return f'{torch.cuda.get_device_name(device)} (CUDA {torch.version.cuda})'
    return f'{torch.get_num_threads()} threads, {platform.processor() or platform.machine()}, CPU'


def sync(device: str):
    if device.startswith('cuda'):
        torch.cuda.synchronize(device)


def measure(step, reps: int, device: str = 'cpu') -> dict:
    """``time_and_peak`` on the CPU; on a GPU the peak is ``torch.cuda.max_memory_allocated``
    above what was allocated before (MiB)."""
    if not device.startswith('cuda'):
        return time_and_peak(step, reps)
    torch.cuda.synchronize(device)
    base = torch.cuda.memory_allocated(device)
    torch.cuda.reset_peak_memory_stats(device)
    result = time_and_peak(step, reps)
    result['peak'] = (torch.cuda.max_memory_allocated(device) - base) / 2**20
    return result
