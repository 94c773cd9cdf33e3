"""The sandbox itself: refusal to run without privilege separation, what a run sees, limits, clean-up."""

import os

import pytest

from hrm.codegen import sandbox as sandbox_module
from hrm.codegen.sandbox import MiB, Execution, Limits, Sandbox, SandboxError, SandboxUser, find_sandbox_users

PROBE = Limits(wall_seconds=10)


def run(sandbox, script, limits=PROBE, **kwargs):
    return sandbox.run(["/bin/sh", "-c", script], files=kwargs.pop("files", {}), limits=limits, **kwargs)


def test_refuses_to_start_without_root(monkeypatch):
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    with pytest.raises(SandboxError, match="must start as root"):
        Sandbox(users=[SandboxUser("u", 1234, 1234)])


def test_refuses_to_run_as_root_without_a_sandbox_user(monkeypatch):
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    with pytest.raises(SandboxError, match="refusing to run untrusted code as root: no sandbox user "
                                           "'hrm-sandbox0'.*useradd"):
        Sandbox(users=[])


def test_a_root_equivalent_sandbox_user_is_refused(monkeypatch):
    monkeypatch.setattr(sandbox_module.pwd, "getpwnam",
                        lambda name: type("Entry", (), {"pw_uid": 0, "pw_gid": 0})() if name == "x0" else
                        (_ for _ in ()).throw(KeyError(name)))
    with pytest.raises(SandboxError, match="'x0' has uid or gid 0"):
        find_sandbox_users("x")


def test_runs_as_the_unprivileged_user_without_capabilities(clean_sandbox):
    execution = run(clean_sandbox, "id -u; grep -E '^(CapEff|NoNewPrivs)' /proc/self/status")
    uid, capabilities, no_new_privs = execution.stdout.decode().split("\n")[:3]
    assert int(uid) in {user.uid for user in clean_sandbox.users}
    assert capabilities.split()[1] == "0000000000000000" and no_new_privs.split()[1] == "1"


def test_sees_only_its_files_and_a_clean_environment(clean_sandbox):
    os.environ["HRM_SANDBOX_TEST_SECRET"] = "leak"
    try:
        execution = run(clean_sandbox, "pwd; ls -A; env | sort; ls /", files={"a/b.txt": "hello"}, workdir="job")
    finally:
        del os.environ["HRM_SANDBOX_TEST_SECRET"]
    lines = execution.stdout.decode().splitlines()
    assert lines[0] == "/tmp/job" and lines[1] == "a"
    assert "leak" not in execution.stdout.decode()
    assert {"PATH=/usr/local/bin:/usr/bin:/bin", "HOME=/tmp/job"} <= set(lines)
    assert not {"home", "root", "work", "var", "opt"} & set(lines)


def test_network_is_unreachable(clean_sandbox):
    execution = run(clean_sandbox, "python3 -c \"import socket; socket.create_connection(('1.1.1.1', 53), 2)\"")
    assert execution.returncode != 0 and b"Network is unreachable" in execution.stderr


def test_work_directory_is_capped(clean_sandbox):
    execution = run(clean_sandbox, "dd if=/dev/zero of=big bs=1M count=64", limits=Limits(disk_bytes=16 * MiB))
    assert execution.returncode != 0 and b"No space left on device" in execution.stderr


def test_output_is_capped(clean_sandbox):
    execution = run(clean_sandbox, "yes | head -c 5000000", limits=Limits(output_bytes=1000, file_bytes=2 * MiB))
    assert len(execution.stdout) == 1000 and execution.signal_name == "SIGXFSZ"
    assert "file-size limit" in execution.describe()


def test_wall_clock_kills_the_whole_tree(clean_sandbox):
    execution = run(clean_sandbox, "sleep 100 & sleep 100 & sleep 100", limits=Limits(wall_seconds=1))
    assert execution.wall_timeout and execution.timed_out and execution.returncode is None
    assert execution.leftover_processes == 0


def test_cpu_limit(clean_sandbox):
    execution = run(clean_sandbox, "exec python3 -c 'while True: pass'", limits=Limits(cpu_seconds=1))
    assert execution.signal_name == "SIGXCPU" and execution.timed_out and not execution.wall_timeout


def test_staged_paths_must_stay_inside_the_work_directory(clean_sandbox):
    with pytest.raises(SandboxError, match="outside the work directory"):
        run(clean_sandbox, "true", files={"../escape": "x"})


def test_execution_describes_how_it_ended():
    assert Execution(139, b"", b"", 0.1, False).describe() == "killed by SIGSEGV"
    assert Execution(3, b"", b"", 0.1, False).describe() == "exit status 3"
    assert Execution(None, b"", b"", 2.0, True).describe() == "wall-clock limit reached after 2.0 s"
