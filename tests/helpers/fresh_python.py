"""Code run in a fresh interpreter: for what a test process must survive (a signal, a limit, another user)."""

import os
import subprocess
import sys
from pathlib import Path

#: Code that makes a child process an ordinary user when the tests run as root (to whom every
#: file is readable); what it imports later must already be imported.
DROP_ROOT = "import os\nif os.geteuid() == 0:\n    os.setgroups([]); os.setgid(65534); os.setuid(65534)\n"


def run_python(code, timeout=120):
    """Run ``code`` in a fresh interpreter (on this checkout's llu_core, with these helpers importable);
    its CompletedProcess."""
    environment = dict(os.environ, PYTHONPATH=os.pathsep.join([str(Path(__file__).resolve().parent), *sys.path]))
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout,
                          env=environment, cwd="/")
