"""Run a command as a SageMaker container runs: no network, and /opt/ml being the job's own folder.

`run_isolated` starts the command in new network and mount namespaces (`unshare`, as root): only a
loopback interface exists (brought up, so a server in the sandbox can be probed from inside it),
`/opt` is an empty tmpfs (this machine's local package indexes under /opt vanish, so pip is as
offline as everything else), `/opt/ml` is the job root bind-mounted, and IMAGE_SITE_PACKAGES is
an empty folder standing in for the image's site-packages. Nothing outside the sandbox changes.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

IMAGE_SITE_PACKAGES = "/opt/image-site-packages"
HERE = Path(__file__).resolve().parent
# requirements-image-toolkit.txt, installed there by `make setup` (kept out of the project's packages).
TOOLKIT = Path(sys.executable).parent.parent / "image-toolkit"

_PRELUDE = (
    "set -e; ip link set lo up; mount -t tmpfs -o mode=0755 tmpfs /opt; "
    f"mkdir -p /opt/ml {IMAGE_SITE_PACKAGES}; mount --bind \"$0\" /opt/ml; cd /; exec \"$@\""
)


def sandbox_available() -> str | None:
    """None when namespaces work here, else the reason (the tests skip with it)."""
    if os.geteuid() != 0:
        return "network and mount namespaces need root (unshare)"
    if not (TOOLKIT / "sagemaker_containers").is_dir():
        return f"the image toolkit is not installed in {TOOLKIT} (make setup)"
    for tool in ("unshare", "ip", "mount"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed"
    probe = subprocess.run(["unshare", "--net", "--mount", "--propagation", "private", "true"], check=False,
                           capture_output=True, text=True)
    return None if probe.returncode == 0 else f"unshare refused: {probe.stderr.strip()}"


def require_sandbox() -> None:
    reason = sandbox_available()
    if reason:
        pytest.skip(reason)


def base_environment() -> dict[str, str]:
    """What any container process has before the model's or job's own variables: PATH with this
    interpreter as `python3` (the image's), a home, a locale, the toolkit on PYTHONPATH after the
    image's site-packages, and the pip shims of xgboost_image.py. No AWS credentials, no proxy settings."""
    venv_bin = str(Path(sys.executable).parent)
    return {
        "PATH": f"{venv_bin}:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin",
        "HOME": "/root", "LANG": "C.UTF-8", "PYTHONUNBUFFERED": "1", "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONPATH": f"{IMAGE_SITE_PACKAGES}:{TOOLKIT}", "PIP_TARGET": IMAGE_SITE_PACKAGES, "PIP_NO_BUILD_ISOLATION": "0",
        "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_NO_INPUT": "1", "PIP_DEFAULT_TIMEOUT": "2",
        "OMP_NUM_THREADS": "1",
    }


def run_isolated(command: list[str], job_root: Path, env: dict[str, str],
                 timeout: float = 300) -> subprocess.CompletedProcess:
    """`command` in the sandbox with exactly `env`; /opt/ml is `job_root`. Output captured as text."""
    argv = ["unshare", "--net", "--mount", "--propagation", "private", "--",
            "/bin/sh", "-c", _PRELUDE, str(job_root), *command]
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=timeout, check=False)
