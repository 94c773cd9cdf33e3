"""Run one untrusted program in a throw-away, unprivileged, network-less sandbox.

Each run is one process tree, contained by four layers (docs/codegen-harness.md says what each one stops):

- `prlimit`: CPU seconds, address space, file size, process count, open files, no core dumps;
- `setpriv`: the real and effective uid/gid of a dedicated unprivileged user, no supplementary groups, no
  capabilities, no_new_privs. `RLIMIT_NPROC` counts per real uid, so each concurrent run gets its own user;
- `bwrap` (bubblewrap, unprivileged): new user, pid, network, ipc, uts and cgroup namespaces; only the
  system directories (`/usr`, `/etc`, ...) plus named toolchain folders, read-only; a size-capped tmpfs
  holds `/tmp` (and so the work directory) and another `/dev/shm`; a cleared environment; a new session;
  when the run's first process ends, the kernel kills everything left in its pid namespace;
- a wall-clock timeout that SIGKILLs the whole process group.

The evaluator must run as root (to switch users); it refuses to start without a sandbox user rather than
run generated code as root. Output goes to files capped by `RLIMIT_FSIZE`, so a flood cannot fill memory.
"""

from __future__ import annotations

import ctypes
import fcntl
import os
import pwd
import queue
import shutil
import signal
import subprocess
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Mapping, Sequence

from hrm.errors import HRMError

USER_PREFIX = "hrm-sandbox"
CREATE_USERS_HINT = (f"create them as root with: for i in 0 1; do useradd --system --no-create-home "
                     f"--home-dir /nonexistent --shell /usr/sbin/nologin {USER_PREFIX}$i; done")
# Read-only system folders a run may see; everything else on the host (/home, /root, /work, /tmp, /var, /opt)
# stays invisible unless a job names it as a toolchain folder.
SYSTEM_DIRS = ("/usr", "/etc", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
STAGE_MOUNT = "/tmp/.stage"
LOCK_DIR = Path("/run/hrm-sandbox")
"""One lock file per sandbox user, so that two evaluator processes never share a user (root-only /run)."""
SANDBOX_PATH = "/usr/local/bin:/usr/bin:/bin"
PR_SET_CHILD_SUBREAPER = 36  # <linux/prctl.h>
SETTLE_SECONDS = 2.0
MiB = 1 << 20
GiB = 1 << 30


class SandboxError(HRMError):
    """The sandbox cannot be set up safely on this machine (not root, no sandbox user, no bwrap)."""


@dataclass(frozen=True, kw_only=True)
class Limits:
    """Resource limits of one run; each is enforced by the kernel, not by the program under test."""

    wall_seconds: float = 10.0
    """Wall-clock limit; the whole process group is SIGKILLed when it passes."""
    cpu_seconds: int = 10
    """RLIMIT_CPU per process (SIGXCPU, then SIGKILL one second later)."""
    memory_bytes: int = 1 * GiB
    """RLIMIT_AS per process (virtual address space)."""
    file_bytes: int = 64 * MiB
    """RLIMIT_FSIZE: largest file a process may write, also the cap on captured stdout and stderr."""
    disk_bytes: int = 256 * MiB
    """Size of the tmpfs that holds /tmp and the work directory."""
    shm_bytes: int = 16 * MiB
    """Size of the tmpfs at /dev/shm."""
    num_processes: int = 32
    """RLIMIT_NPROC: processes plus threads of the run's sandbox user."""
    num_open_files: int = 256
    """RLIMIT_NOFILE."""
    output_bytes: int = 1 * MiB
    """How much of stdout and of stderr the result keeps (the head)."""


@dataclass(frozen=True)
class Execution:
    """What one sandboxed run did. `returncode` is None when the harness killed it at the wall clock."""

    returncode: int | None
    stdout: bytes
    stderr: bytes
    seconds: float
    wall_timeout: bool
    leftover_processes: int = 0
    """Processes of the sandbox user found (and killed) after the run; always 0 unless containment failed."""

    @property
    def signal_name(self) -> str | None:
        """bwrap reports a child killed by signal N as exit status 128 + N."""
        if self.returncode is None or self.returncode <= 128:
            return None
        try:
            return signal.Signals(self.returncode - 128).name
        except ValueError:
            return None

    @property
    def timed_out(self) -> bool:
        return self.wall_timeout or self.signal_name == "SIGXCPU"

    def describe(self) -> str:
        """One line: how the run ended."""
        if self.wall_timeout:
            return f"wall-clock limit reached after {self.seconds:.1f} s"
        name = self.signal_name
        if name == "SIGXCPU":
            return "CPU-time limit reached (SIGXCPU)"
        if name == "SIGXFSZ":
            return "file-size limit reached (SIGXFSZ): output or a file too large"
        if name is not None:
            return f"killed by {name}"
        return f"exit status {self.returncode}"


@dataclass(frozen=True)
class SandboxUser:
    name: str
    uid: int
    gid: int


def find_sandbox_users(prefix: str = USER_PREFIX) -> list[SandboxUser]:
    """The users `<prefix>0`, `<prefix>1`, ... that exist, in order; a root-equivalent one is an error."""
    users = []
    while True:
        name = f"{prefix}{len(users)}"
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            return users
        if entry.pw_uid == 0 or entry.pw_gid == 0:
            raise SandboxError(f"sandbox user '{name}' has uid or gid 0; it must be an unprivileged user")
        users.append(SandboxUser(name, entry.pw_uid, entry.pw_gid))


def processes_of(uid: int) -> list[tuple[int, str, int]]:
    """(pid, state letter, parent pid) of every process whose real uid is `uid`, read from /proc."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/status", "rb") as handle:
                status = dict(line.split(b":", 1) for line in handle if b":" in line)
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
        if int(status[b"Uid"].split()[0]) == uid:
            found.append((int(entry), status[b"State"].split()[0].decode(), int(status[b"PPid"])))
    return found


def _become_subreaper() -> None:
    """bwrap's outer process exits without waiting for the sandbox's init, so orphaned sandbox processes
    would become zombies of the host's init (which may reap late, and zombies count against RLIMIT_NPROC);
    as a subreaper this process inherits them and reaps them by pid."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise SandboxError(f"prctl(PR_SET_CHILD_SUBREAPER) failed: {os.strerror(ctypes.get_errno())}")


@dataclass
class Sandbox:
    """Runs commands as the sandbox users, one run per user at a time; safe to call from several threads."""

    users: list[SandboxUser] = field(default_factory=find_sandbox_users)
    temp_root: str = field(default_factory=tempfile.gettempdir)

    def __post_init__(self) -> None:
        if os.geteuid() != 0:
            raise SandboxError("the code sandbox must start as root so that it can switch to its unprivileged "
                               f"'{USER_PREFIX}N' users; run the evaluation as root (e.g. with sudo)")
        if not self.users:
            raise SandboxError(f"refusing to run untrusted code as root: no sandbox user '{USER_PREFIX}0' exists; "
                               + CREATE_USERS_HINT)
        for tool, package in (("prlimit", "util-linux"), ("setpriv", "util-linux"), ("bwrap", "bubblewrap")):
            if shutil.which(tool) is None:
                raise SandboxError(f"'{tool}' not found; install it with: apt-get install {package}")
        _become_subreaper()
        self._free: queue.Queue[SandboxUser] = queue.Queue()
        for user in self.users:
            self._free.put(user)
        self._check_isolation()

    @property
    def num_slots(self) -> int:
        return len(self.users)

    def _check_isolation(self) -> None:
        """Refuse to run anything if a probe inside the sandbox is not the sandbox user without capabilities."""
        probe = self.run(["/bin/cat", "/proc/self/status"], files={}, limits=Limits(wall_seconds=30))
        fields = dict(line.split(":", 1) for line in probe.stdout.decode(errors="replace").splitlines() if ":" in line)
        uids = fields.get("Uid", "").split()
        if probe.returncode != 0 or not uids or "0" in uids or int(fields.get("CapEff", "1").strip(), 16) != 0:
            raise SandboxError("the sandbox probe did not run as an unprivileged user without capabilities "
                               f"({probe.describe()}; {probe.stderr.decode(errors='replace').strip()[:300]}); "
                               "bwrap needs unprivileged user namespaces (sysctl user.max_user_namespaces > 0)")

    @contextmanager
    def _user(self) -> Iterator[SandboxUser]:
        """A free sandbox user: free in this process (queue) and in every other one (a lock file in /run)."""
        user = self._free.get()
        try:
            LOCK_DIR.mkdir(mode=0o755, exist_ok=True)
            with open(LOCK_DIR / f"{user.name}.lock", "a") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)
                yield user
        finally:
            self._free.put(user)

    def run(self, command: Sequence[str], *, files: Mapping[str, str | bytes], limits: Limits,
            stdin: bytes = b"", env: Mapping[str, str] | None = None, read_only_paths: Sequence[str] = (),
            workdir: str = "work") -> Execution:
        """Copy `files` (relative path -> content) into a fresh /tmp/<workdir>, run `command` there, clean up."""
        with self._user() as user, _staging(self.temp_root, user, files) as stage:
            work = f"/tmp/{workdir}"
            sandbox_env = {"PATH": SANDBOX_PATH, "HOME": work, "TMPDIR": "/tmp", "LANG": "C.UTF-8",
                           **(env or {})}
            argv = [*_prlimit_argv(limits), *_setpriv_argv(user),
                    *_bwrap_argv(limits, stage / "work", read_only_paths, sandbox_env),
                    "/bin/sh", "-c", 'cp -R --preserve=mode "$0"/. "$1" && cd "$1" && shift && exec "$@"',
                    STAGE_MOUNT, work, *command]
            return _execute(argv, stage, stdin, limits, user)


def _prlimit_argv(limits: Limits) -> list[str]:
    cpu = limits.cpu_seconds
    return ["prlimit", f"--cpu={cpu}:{cpu + 1}", f"--as={limits.memory_bytes}", f"--fsize={limits.file_bytes}",
            f"--nproc={limits.num_processes}", f"--nofile={limits.num_open_files}", "--core=0", "--"]


def _setpriv_argv(user: SandboxUser) -> list[str]:
    return ["setpriv", f"--reuid={user.uid}", f"--regid={user.gid}", "--clear-groups", "--inh-caps=-all",
            "--bounding-set=-all", "--no-new-privs", "--"]


def _bwrap_argv(limits: Limits, stage_work: Path, read_only_paths: Sequence[str],
                env: Mapping[str, str]) -> list[str]:
    argv = ["bwrap", "--unshare-all", "--unshare-user", "--disable-userns", "--die-with-parent", "--new-session",
            "--hostname", "sandbox", "--clearenv"]
    for top in SYSTEM_DIRS:
        if os.path.islink(top):
            argv += ["--symlink", os.readlink(top), top]
        elif os.path.isdir(top):
            argv += ["--ro-bind", top, top]
    argv += ["--dev", "/dev", "--proc", "/proc",
             "--size", str(limits.disk_bytes), "--tmpfs", "/tmp",
             "--size", str(limits.shm_bytes), "--tmpfs", "/dev/shm",
             "--ro-bind", str(stage_work), STAGE_MOUNT, "--chdir", "/tmp"]
    for path in read_only_paths:  # after the tmpfs mounts, which would hide a toolchain folder under /tmp
        argv += ["--ro-bind", path, path]
    for key, value in env.items():
        argv += ["--setenv", key, value]
    return argv + ["--"]


@contextmanager
def _staging(temp_root: str, user: SandboxUser, files: Mapping[str, str | bytes]) -> Iterator[Path]:
    """A root-owned folder holding `work/` (readable only by `user`) and the run's output files."""
    stage = Path(tempfile.mkdtemp(prefix="hrm-sandbox-", dir=temp_root))
    try:
        os.chmod(stage, 0o711)
        work = stage / "work"
        work.mkdir(mode=0o700)
        os.chown(work, user.uid, user.gid)
        for relative, content in files.items():
            target = work / relative
            if work.resolve() not in target.resolve().parents:
                raise SandboxError(f"staged file '{relative}' would land outside the work directory")
            target.parent.mkdir(parents=True, exist_ok=True)
            data = content.encode() if isinstance(content, str) else content
            target.write_bytes(data)
        for path in [work, *work.rglob("*")]:
            os.chown(path, user.uid, user.gid, follow_symlinks=False)
        yield stage
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def _execute(argv: list[str], stage: Path, stdin: bytes, limits: Limits, user: SandboxUser) -> Execution:
    stdin_path, stdout_path, stderr_path = stage / "stdin", stage / "stdout", stage / "stderr"
    stdin_path.write_bytes(stdin)
    start = time.monotonic()
    with open(stdin_path, "rb") as stdin_file, open(stdout_path, "wb") as stdout_file, \
            open(stderr_path, "wb") as stderr_file:
        process = subprocess.Popen(argv, stdin=stdin_file, stdout=stdout_file, stderr=stderr_file,
                                   env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}, start_new_session=True)
        try:
            returncode: int | None = process.wait(timeout=limits.wall_seconds)
        except subprocess.TimeoutExpired:
            returncode = None
            _kill_group(process.pid)
            process.wait()
    seconds = time.monotonic() - start
    leftovers = _settle(user.uid)
    return Execution(returncode=returncode, stdout=_head(stdout_path, limits.output_bytes),
                     stderr=_head(stderr_path, limits.output_bytes), seconds=seconds,
                     wall_timeout=returncode is None, leftover_processes=leftovers)


def _settle(uid: int) -> int:
    """Reap the run's exiting processes; SIGKILL (and count) any still alive after SETTLE_SECONDS.

    The pid namespace dies with its init, so a contained run leaves nothing alive and this returns 0."""
    deadline = time.monotonic() + SETTLE_SECONDS
    killed: set[int] = set()
    while True:
        alive = []
        for pid, state, parent in processes_of(uid):
            if state == "Z":
                if parent == os.getpid():
                    _reap(pid)
                continue
            alive.append(pid)
        if not alive:
            return len(killed)
        if time.monotonic() > deadline:
            for pid in alive:
                _kill_pid(pid)
            killed.update(alive)
        time.sleep(0.005)


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _kill_pid(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _head(path: Path, num_bytes: int) -> bytes:
    with open(path, "rb") as handle:
        return handle.read(num_bytes)
