"""Hostile programs, graded through the real Python path (driver + sandbox): each must be contained, get
"failed" or "timeout", never "passed", and leave the machine as it was.

Every program is the answer to a task whose test is `assert add(1, 2) == 3`. Where a program probes a
boundary (network, files, secrets, privileges), it defines a correct `add` ONLY if the probe got through,
so a containment breach would show up as "passed". The `clean_sandbox` fixture checks that no process of
any sandbox user is left; each test also checks that nothing named with the run's token appeared on the host.
"""

from __future__ import annotations

import ast
import dataclasses
import os
import socket
import subprocess
import uuid
from pathlib import Path

import pytest

from hrm.codegen.problems.python_grading import grade_python, guarded_checks, passes_without_judging, python_limits

TOKEN = f"hrm-pwned-{uuid.uuid4().hex[:12]}"
SECRET = f"secret-{uuid.uuid4().hex}"
HOST_DIRS = ["/tmp", "/var/tmp", "/dev/shm", "/etc", "/root", "/run", str(Path.cwd()), str(Path(__file__).parent)]
BREACH = "def add(a, b):\n    return a + b\n"
"""Defined by a probe that got through: the sample then passes, and the test fails."""


def breach_if(condition: str) -> str:
    return f"if {condition}:\n    def add(a, b):\n        return a + b\n"


LIMITS = dataclasses.replace(python_limits(1.0), wall_seconds=4.0, cpu_seconds=3)
"""Short limits keep the suite fast: a 1 s in-process timer, 3 s of CPU, 4 s of wall clock."""

# name -> program. `TOKEN`, `SECRET` and `PARENT_PID` are substituted before the run.
HOSTILE = {
    "fork_bomb": "import os\nwhile True:\n    os.fork()\n",
    "fork_bomb_ignoring_errors": (
        "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n"),
    "thread_bomb": "import threading, time\nwhile True:\n    threading.Thread(target=time.sleep, args=(60,)).start()\n",
    "memory_bomb_at_once": "block = bytearray(64 << 30)\n",
    "memory_bomb_growing": "blocks = []\nwhile True:\n    blocks.append(b'x' * (100 << 20))\n",
    "fork_then_allocate": (
        "import os\nfor _ in range(16):\n    try:\n        os.fork()\n    except OSError:\n        break\n"
        "blocks = []\nwhile True:\n    blocks.append(b'x' * (100 << 20))\n"),
    "infinite_loop": "while True:\n    pass\n",
    "infinite_loop_ignoring_alarm": (
        "import signal\nsignal.signal(signal.SIGALRM, signal.SIG_IGN)\nwhile True:\n    pass\n"),
    "sleep_with_alarm_blocked": (
        "import signal, time\nsignal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})\ntime.sleep(3600)\n"),
    "stop_itself": "import os, signal\nos.kill(os.getpid(), signal.SIGSTOP)\n",
    "long_computation_in_c": "x = pow(7, 10 ** 9)\n",
    "stack_overflow": "import sys\nsys.setrecursionlimit(10 ** 9)\ndef f():\n    return f()\nf()\n",
    "huge_output": "while True:\n    print('x' * 1000000)\n",
    "huge_output_to_every_fd": (
        "import os\nwhile True:\n    for fd in range(1, 20):\n        try:\n"
        "            os.write(fd, b'x' * (1 << 20))\n"
        "        except OSError:\n            pass\n"),
    "disk_filler": (
        "import os\ni = 0\nwhile True:\n    with open(f'fill-{i}', 'wb') as f:\n        f.write(os.urandom(8 << 20))\n"
        "    i += 1\n"),
    "write_private_tmp_and_shm": (
        "for path in ['/tmp/TOKEN', '/dev/shm/TOKEN', 'TOKEN']:\n    open(path, 'w').write('x')\n"
        "raise SystemExit('wrote only into its private folders')\n"),
    "dev_shm_filler": "with open('/dev/shm/TOKEN', 'wb') as f:\n    while True:\n        f.write(b'x' * (1 << 20))\n",
    "open_file_exhaustion": "files = []\nwhile True:\n    files.append(open('/dev/null'))\n",
    "zombie_flood": "import os\nwhile True:\n    if os.fork() == 0:\n        os._exit(0)\n",
    "children_left_sleeping": (
        "import os, time\nfor _ in range(3):\n    if os.fork() == 0:\n        os.setsid()\n        if os.fork() == 0:\n"
        "            time.sleep(3600)\n        os._exit(0)\n"
        "raise SystemExit('parent leaves its daemons behind')\n"),
    "signal_the_parent": (
        "import os, signal\nfor pid in (os.getppid(), PARENT_PID, 1):\n    try:\n        os.kill(pid, signal.SIGKILL)\n"
        "    except OSError:\n        pass\n"),
    "kill_everything_it_can": "import os, signal\nos.kill(-1, signal.SIGKILL)\n",
    "exit_zero_early": "import os\nos._exit(0)\n",
    "system_exit_zero": "import sys\nsys.exit(0)\n",
    "fake_result_line": (
        "import os\nos.write(1, b'0000 {\"error\": null, \"timeout\": false, \"tests\": [{\"error\": null, "
        "\"timeout\": false}]}\\n')\nos._exit(0)\n"),
    "network_connect_outside": (
        "import socket\ns = socket.socket()\ns.settimeout(2)\ns.connect(('1.1.1.1', 53))\n" + BREACH),
    "network_connect_host_loopback": (
        "import socket\ns = socket.socket()\ns.settimeout(2)\ns.connect(('127.0.0.1', HOST_PORT))\n" + BREACH),
    "dns_lookup": "import socket\nsocket.getaddrinfo('example.com', 80)\n" + BREACH,
    "write_outside_workdir": (
        "import os\nwritten = []\nfor folder in ['/etc', '/usr', '/root', '/var/tmp', '/run', 'REPO', '/tmp/.stage']:\n"
        "    try:\n        open(os.path.join(folder, 'TOKEN'), 'w').write('x')\n        written.append(folder)\n"
        "    except OSError:\n        pass\n"
        + breach_if("written")),
    "read_other_users_files": (
        "found = []\nfor path in ['/etc/shadow', '/etc/gshadow', '/root/.bashrc', '/root/.ssh/id_rsa',\n"
        "             '/proc/PARENT_PID/environ', '/etc/ssl/private/ssl-cert-snakeoil.key']:\n"
        "    try:\n        open(path, 'rb').read()\n        found.append(path)\n    except OSError:\n        pass\n"
        + breach_if("found")),
    "read_repository_and_data": (
        "import os\n" + breach_if("any(os.path.exists(p) for p in ['REPO', '/work', '/home', '/root', '/var'])")),
    "environment_secrets": (
        "import os\nenviron = open('/proc/self/environ', 'rb').read() + open('/proc/1/environ', 'rb').read()\n"
        + breach_if("'SECRET' in str(dict(os.environ)) or b'SECRET' in environ")),
    "become_root": "import os\nos.setuid(0)\n" + BREACH,
    "capabilities": (
        "status = open('/proc/self/status').read()\ncaps = [l for l in status.splitlines() if l.startswith('Cap')]\n"
        + breach_if("any(int(l.split()[1], 16) for l in caps)")),
    "new_user_namespace": (
        "import ctypes\nlibc = ctypes.CDLL(None, use_errno=True)\n" + breach_if("libc.unshare(0x10000000) == 0")),
    "mount_a_filesystem": (
        "import ctypes\nlibc = ctypes.CDLL(None, use_errno=True)\n"
        + breach_if("libc.mount(b'none', b'/tmp', b'tmpfs', 0, None) == 0")),
    "see_host_processes": (
        "import os\npids = [p for p in os.listdir('/proc') if p.isdigit()]\n"
        + breach_if("'PARENT_PID' in pids or len(pids) > 10")),
}


@pytest.fixture(scope="module")
def host_listener():
    """A TCP listener on the host's loopback, that a sandboxed program must not reach."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    yield server.getsockname()[1]
    server.close()


def _program(template: str, host_port: int) -> str:
    repo = str(Path(__file__).resolve().parents[2])
    return (template.replace("TOKEN", TOKEN).replace("SECRET", SECRET).replace("PARENT_PID", str(os.getpid()))
            .replace("HOST_PORT", str(host_port)).replace("REPO", repo))


def _grade(sandbox, program: str):
    statements, num_tests = guarded_checks(ast.parse("assert add(1, 2) == 3").body)
    job = {"mode": "exec", "module_name": None, "program": program, "num_tests": num_tests, "total_seconds": 1.0,
           "checks": ast.unparse(ast.Module(body=statements, type_ignores=[]))}
    return grade_python(sandbox, job, LIMITS, passes_without_judging)


def _token_on_host() -> list[str]:
    found = subprocess.run(["find", *[d for d in HOST_DIRS if os.path.isdir(d)], "-xdev", "-maxdepth", "3",
                            "-name", f"*{TOKEN}*"], capture_output=True, text=True).stdout
    return found.split()


def test_the_breach_marker_itself_passes(clean_sandbox):
    """Guards the suite's logic: a program that defines `add` does pass."""
    assert _grade(clean_sandbox, BREACH).verdict == "passed"


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_program_is_contained(name, clean_sandbox, host_listener, monkeypatch):
    monkeypatch.setenv("HRM_TEST_SECRET", SECRET)
    canary = subprocess.Popen(["sleep", "60"])
    try:
        outcome = _grade(clean_sandbox, _program(HOSTILE[name], host_listener))
        assert outcome.verdict in ("failed", "timeout"), outcome
        assert outcome.reason, outcome
        assert canary.poll() is None, "a process outside the sandbox was killed"
        assert _token_on_host() == []
    finally:
        canary.kill()
        canary.wait()
