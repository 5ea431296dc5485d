"""reuse_freed_host_memory: a training process reuses its freed temporaries
instead of taking fresh pages from the kernel at every step (glibc)."""

import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(
    sys.platform != "linux", reason="glibc's mallopt is Linux-only"
)

# minor page faults while a step-like loop allocates and frees 8 MB arrays
# (glibc alone returns the freed heap top, 48 MB, to the kernel each time)
SCRIPT = """
import resource, sys
import numpy as np
from nncli.engine.backend import reuse_freed_host_memory
changed = reuse_freed_host_memory()
a = np.ones(2_000_000, np.float32)  # 8 MB, like a conv layer's patches
def step():  # a step's temporaries: several live at once, then all freed
    held = [a * 2 for _ in range(6)]
    return sum(float(h[0]) for h in held)
for _ in range(3):
    step()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(20):
    step()
faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
print(changed, faults)
"""


def run(env_extra: dict) -> tuple[bool, int]:
    import os

    env = {**os.environ, **env_extra}
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return out[0] == "True", int(out[1])


def test_freed_arrays_are_reused_without_page_faults():
    changed, faults = run({})
    if not changed:
        pytest.skip("not glibc: the allocator is left alone")
    # 20 x 6 fresh 8 MB temporaries would fault in about 120 x 2,000 pages
    assert faults < 1000


def test_nncli_malloc_system_leaves_the_allocator_alone():
    changed, faults = run({"NNCLI_MALLOC": "system"})
    assert not changed
    if faults < 20 * 1000:  # this libc reuses big blocks by itself
        pytest.skip("this allocator does not return big blocks to the kernel")
    assert faults > 20 * 1000  # glibc 2.3x: about 60,000
