"""Keep decrypted requests and keys in this process: no core file, and no other process may read its memory.

``RLIMIT_CORE = 0`` stops the kernel writing a core file; on Linux ``prctl(PR_SET_DUMPABLE, 0)`` also
covers a core pattern that pipes to a helper (systemd-coredump ignores RLIMIT_CORE) and stops another
process of the same user from attaching with ptrace or reading /proc/PID/mem.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import sys

PR_SET_DUMPABLE = 4
PR_GET_DUMPABLE = 3


def _prctl(option: int, value: int) -> int:
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    return int(libc.prctl(option, value, 0, 0, 0))


def no_core_dumps() -> None:
    """A crash must not write decrypted requests or keys to disk in a core file."""
    with contextlib.suppress(ImportError, ValueError, OSError):  # not POSIX, or not allowed
        import resource

        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            _prctl(PR_SET_DUMPABLE, 0)


def is_dumpable() -> bool:
    """For tests and `triage info`: False once no_core_dumps() has run on Linux."""
    return bool(_prctl(PR_GET_DUMPABLE, 0)) if sys.platform.startswith("linux") else True
