"""Start a job's process as SageMaker starts it: its own /opt/ml (a bind mount in a private mount
namespace) and, for network-isolated jobs, no network but loopback."""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

# Inside the namespace: mount the job's folder on /opt/ml, bring loopback up, then exec the command.
_PRELUDE = ('mkdir -p /opt/ml && mount --bind "$0" /opt/ml && { ip link set lo up 2>/dev/null || true; } '
            '&& cd "${REHEARSAL_CWD:-/}" && exec "$@"')


def _namespace(network_isolated: bool) -> list[str]:
    if shutil.which("unshare") is None:
        raise RuntimeError("the rehearsal needs util-linux `unshare` (mount namespaces) to give each job its own /opt/ml")
    flags = ["--mount"] + (["--net"] if network_isolated else [])
    if os.geteuid() != 0:
        flags = ["--user", "--map-root-user", *flags]
    return ["unshare", *flags]


def run_in_job(job_root: Path, command: list[str], *, env: dict[str, str], network_isolated: bool,
               log: Path, cwd: str = "/") -> subprocess.CompletedProcess:
    """Run `command` with `job_root` as /opt/ml; stdout+stderr to `log` (and returned)."""
    job_root.mkdir(parents=True, exist_ok=True)
    full = [*_namespace(network_isolated), "sh", "-c", _PRELUDE, str(job_root), *command]
    env = dict(env, REHEARSAL_CWD=cwd)
    log.parent.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(full, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False)
    log.write_text(result.stdout)
    return result


def popen_in_job(job_root: Path, command: list[str], *, env: dict[str, str], network_isolated: bool,
                 log: Path) -> subprocess.Popen:
    """Start a long-running `command` (a server) with `job_root` as /opt/ml."""
    job_root.mkdir(parents=True, exist_ok=True)
    full = [*_namespace(network_isolated), "sh", "-c", _PRELUDE, str(job_root), *command]
    log.parent.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen(full, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT, start_new_session=True)
