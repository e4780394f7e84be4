#!/usr/bin/env python3
"""The operator's guide (docs/deployment.md) exercised on loopback with the shipped files in deploy/:

- deploy/ecosire.env and deploy/generate-secrets.sh read as systemd reads them (and the same under
  sh's `.`), every variable one that README.md's configuration table lists; the secrets carried over
  from a DATA_DIR keep issued tokens, signing keys and stored webhook secrets;
- deploy/ecosire.service passes `systemd-analyze verify` and `security --offline`, and every server
  here runs inside an emulation of its sandbox (a mount namespace with the file system read-only
  but DATA_DIR, private /tmp and /dev, hidden homes, its own unprivileged user, the unit's
  SystemCallFilter, MemoryDenyWriteExecute, RestrictAddressFamilies and RestrictNamespaces as
  seccomp filters built from the unit file) when the checks run as root;
- deploy/nginx.conf (only addresses, ports and certificate paths replaced) with TLS in front of two
  instances on one PostgreSQL database: the redirect, Secure cookies, HSTS once, round robin, the
  client address through X-Forwarded-For (a forged one does not escape the login limit), one
  login limit across both instances, /metrics hidden, shared product files, kill -9 and a rolling
  restart under load without failed requests;
- `ecosire backup`/`restore` on SQLite and the pg_dump/pg_restore procedure the binary prints,
  each a round trip under write load that keeps every contact acknowledged before the backup
  started; `ecosire migrate`, readiness with a migration missing;
- deploy/prometheus.yml and deploy/alerts.yml in Debian's Prometheus scraping both instances: the
  rules load, and every PromQL query and metric name in the guide has data.

    python3 scripts/deployment_checks.py BIN WORKDIR [--postgres URL]

Everything listens on loopback (ports from the kernel). With --postgres, each PostgreSQL run gets a
fresh database on that cluster. Installs Debian's nginx and prometheus (and aiosmtpd, prometheus_client
from PyPI) when missing. Prints one ✔/✘ line per check and "N passed, N failed"; the exit status is
non-zero when a check failed.
"""
import base64
import ctypes
import errno
import glob
import hashlib
import http.client
import json
import os
import re
import resource
import shutil
import signal
import socket
import sqlite3
import ssl
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
import uuid
import checklib
from checklib import Answer, equal, expect, log_tail, poll, request, run_checks_showing_logs

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEPLOY = os.path.join(ROOT, "deploy")
GUIDE = os.path.join(ROOT, "docs", "deployment.md")
README = os.path.join(ROOT, "README.md")
SERVICE_UID = 65534  # `nobody` stands in for the unit's User=ecosire
ctx = {}
SERVERS = []
PROCESSES = []  # nginx, prometheus: stopped at exit

# Taking an instance out of nginx's rotation before stopping it, and putting it back (the guide's rolling restart).
TAKE_OUT = "sed -i 's/^\\( *server 10\\.0\\.0\\.11:8080 .*\\);$/\\1 down;/' /etc/nginx/conf.d/ecosire.conf && nginx -s reload"
PUT_BACK = "sed -i 's/ down;$/;/' /etc/nginx/conf.d/ecosire.conf && nginx -s reload"

# The commands of the guide that these checks run (with the paths of this machine put in); each
# must appear in docs/deployment.md exactly like this.
GUIDE_COMMANDS = [
    "sh -c 'umask 077; deploy/generate-secrets.sh > /etc/ecosire/secrets.env'",
    "sh -c 'umask 077; deploy/generate-secrets.sh /var/lib/ecosire > /etc/ecosire/secrets.env'",
    "systemd-analyze verify /etc/systemd/system/ecosire.service",
    "systemd-analyze security --offline=true /etc/systemd/system/ecosire.service",
    "set -a; . /etc/ecosire/ecosire.env; . /etc/ecosire/secrets.env; set +a",
    "runuser -u ecosire -- ecosire backup --output /var/backups/ecosire/ecosire.sqlite",
    "runuser -u ecosire -- ecosire restore --input /var/backups/ecosire/ecosire.sqlite",
    "runuser -u ecosire -- ecosire migrate",
    "ldd /usr/local/bin/ecosire | grep 'not found'",
    TAKE_OUT,
    PUT_BACK,
    "curl -fsS http://10.0.0.11:8080/api/health/ready",
    "nginx -t",
    "promtool check config /etc/prometheus/prometheus.yml",
]


# ---------------------------------------------------------------- the unit's sandbox, emulated

def run_sandbox(spec, argv):
    """`deployment_checks.py --sandbox SPEC -- PROGRAM ARGS…`: sets up the emulated sandbox of
    deploy/ecosire.service in this process, then execs PROGRAM. Root only."""
    libc = ctypes.CDLL(None, use_errno=True)
    ms_rdonly, ms_nosuid, ms_nodev, ms_remount, ms_bind, ms_move, ms_rec, ms_private = 1, 2, 4, 32, 4096, 8192, 16384, 1 << 18

    def ok(result, what):
        if result != 0:
            number = ctypes.get_errno()
            raise OSError(number, f"{what}: {os.strerror(number)}")

    def mount(source, target, fstype, flags, data=None):
        ok(libc.mount(source and source.encode(), target.encode(), fstype and fstype.encode(), ctypes.c_ulong(flags),
                      data and data.encode()), f"mount {target}")

    ok(libc.unshare(0x00020000), "unshare(CLONE_NEWNS)")
    mount(None, "/", None, ms_rec | ms_private)
    # What must stay reachable (DATA_DIR, read-write; the binary when it lies under a hidden
    # directory, read-only) is bind-mounted aside first and moved back once the rest is in place.
    staging = spec["staging"]
    mount("tmpfs", staging, "tmpfs", ms_nosuid | ms_nodev, "mode=700")
    kept = spec["writable"] + spec["visible"]
    for index, (source, _) in enumerate(kept):
        aside = os.path.join(staging, str(index))
        if os.path.isdir(source):
            os.mkdir(aside)
        else:
            open(aside, "w").close()
        mount(source, aside, None, ms_bind | ms_rec)
    if spec["protect_system"] == "strict":
        mount(None, "/", None, ms_remount | ms_bind | ms_rdonly)
    if spec["private_tmp"]:
        for directory in ("/tmp", "/var/tmp"):
            mount("tmpfs", directory, "tmpfs", ms_nosuid | ms_nodev, "mode=1777")
    if spec["protect_home"]:
        for directory in ("/home", "/root", "/run/user"):
            if os.path.isdir(directory):
                mount("tmpfs", directory, "tmpfs", ms_nosuid | ms_nodev | ms_rdonly, "mode=000")
    if spec["private_devices"]:
        mount("tmpfs", "/dev", "tmpfs", ms_nosuid, "mode=755")
        for name, major, minor in (("null", 1, 3), ("zero", 1, 5), ("full", 1, 7), ("random", 1, 8), ("urandom", 1, 9), ("tty", 5, 0)):
            os.mknod("/dev/" + name, 0o20666, os.makedev(major, minor))
            os.chmod("/dev/" + name, 0o666)
        for directory in ("/dev/shm", "/dev/pts"):
            os.mkdir(directory)
        mount("tmpfs", "/dev/shm", "tmpfs", ms_nosuid | ms_nodev, "mode=1777")
        for name, target in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"), ("stdout", "/proc/self/fd/1"),
                             ("stderr", "/proc/self/fd/2")):
            os.symlink(target, "/dev/" + name)
    for index, (source, target) in enumerate(kept):
        if not os.path.exists(target):
            if os.path.isdir(os.path.join(staging, str(index))):
                os.makedirs(target)
            else:
                os.makedirs(os.path.dirname(target), exist_ok=True)
                open(target, "w").close()
        mount(os.path.join(staging, str(index)), target, None, ms_move)
        if index >= len(spec["writable"]):
            mount(None, target, None, ms_remount | ms_bind | ms_rdonly)
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    limit = spec["nofile"] if hard == resource.RLIM_INFINITY else min(spec["nofile"], hard)
    resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))
    os.chdir(spec["cwd"])
    if spec["drop_capabilities"]:
        for capability in range(64):
            if libc.prctl(24, capability, 0, 0, 0) != 0:  # PR_CAPBSET_DROP until EINVAL
                break
    os.setgroups([])
    os.setgid(spec["uid"])
    os.setuid(spec["uid"])
    os.umask(spec["umask"])
    if spec["no_new_privileges"]:
        ok(libc.prctl(38, 1, 0, 0, 0), "PR_SET_NO_NEW_PRIVS")
    seccomp = Seccomp()
    # Filters that only refuse some calls first; the allow list last (it would refuse loading more).
    if spec["mdwe"]:
        prot_write, prot_exec, shm_exec = 2, 4, 0o100000
        seccomp.load(Seccomp.ALLOW, [
            ("mmap", spec["errno"], [(2, Seccomp.MASKED_EQ, prot_write | prot_exec, prot_write | prot_exec)]),
            ("mprotect", spec["errno"], [(2, Seccomp.MASKED_EQ, prot_exec, prot_exec)]),
            ("pkey_mprotect", spec["errno"], [(2, Seccomp.MASKED_EQ, prot_exec, prot_exec)]),
            ("shmat", spec["errno"], [(2, Seccomp.MASKED_EQ, shm_exec, shm_exec)])])
    if spec["families"] is not None:
        seccomp.load(Seccomp.ALLOW, [("socket", Seccomp.errno_action(errno.EAFNOSUPPORT), [(0, Seccomp.EQ, family, 0)])
                                     for family in range(46) if family not in spec["families"]])
    if spec["restrict_namespaces"]:
        # As systemd: clone3's flags cannot be inspected, so it answers ENOSYS (glibc falls back to
        # clone); clone, unshare and setns with a namespace flag are refused.
        flags = [0x00020000, 0x02000000, 0x04000000, 0x08000000, 0x10000000, 0x20000000, 0x40000000, 0x00000080]
        rules = [("clone3", Seccomp.errno_action(errno.ENOSYS), [])]
        for name, argument in (("clone", 0), ("unshare", 0), ("setns", 1)):
            rules += [(name, spec["errno"], [(argument, Seccomp.MASKED_EQ, flag, flag)]) for flag in flags]
        seccomp.load(Seccomp.ALLOW, rules)
    if spec["allow"] is not None:
        seccomp.load(spec["errno"], [(name, Seccomp.ALLOW, []) for name in spec["allow"]])
    os.execv(argv[0], argv)


class Seccomp:
    """The few libseccomp calls the emulation needs, through ctypes."""
    ALLOW = 0x7FFF0000
    EQ, MASKED_EQ = 4, 7

    class Comparison(ctypes.Structure):
        _fields_ = [("arg", ctypes.c_uint), ("op", ctypes.c_int), ("a", ctypes.c_uint64), ("b", ctypes.c_uint64)]

    @staticmethod
    def errno_action(number):
        return 0x00050000 | (number & 0xFFFF)

    def __init__(self):
        self.lib = ctypes.CDLL("libseccomp.so.2")
        self.lib.seccomp_init.restype = ctypes.c_void_p
        self.lib.seccomp_init.argtypes = [ctypes.c_uint32]
        self.lib.seccomp_rule_add_array.argtypes = [ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int, ctypes.c_uint,
                                                    ctypes.POINTER(Seccomp.Comparison)]
        self.lib.seccomp_load.argtypes = [ctypes.c_void_p]
        self.lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]

    def load(self, default, rules):
        context = self.lib.seccomp_init(default)
        for name, action, comparisons in rules:
            number = self.lib.seccomp_syscall_resolve_name(name.encode())
            if number < 0:
                continue  # not a system call of this architecture
            array = (Seccomp.Comparison * max(1, len(comparisons)))(*[Seccomp.Comparison(*c) for c in comparisons])
            result = self.lib.seccomp_rule_add_array(context, action, number, len(comparisons), array)
            if result != 0:
                raise OSError(-result, f"seccomp rule for {name}")
        result = self.lib.seccomp_load(context)
        if result != 0:
            raise OSError(-result, "seccomp_load")


def unit_settings(path):
    """(section, key) → [values] of a unit file, in order."""
    settings, section = {}, None
    with open(path) as unit:
        for line in unit:
            line = line.strip()
            if not line or line[0] in "#;":
                continue
            if line.startswith("["):
                section = line.strip("[]")
                continue
            key, _, value = line.partition("=")
            settings.setdefault((section, key.strip()), []).append(value.strip())
    return settings


def syscall_groups():
    """systemd-analyze's syscall groups: name → members (calls and @groups)."""
    listing = run(["systemd-analyze", "syscall-filter", "--no-pager"]).stdout
    groups, current = {}, None
    for line in listing.splitlines():
        if line.startswith("@"):
            current = line.strip()
            groups[current] = []
        elif current and line.strip() and not line.strip().startswith("#"):
            groups[current].append(line.strip())
    return groups


def expand(names, groups):
    calls = set()
    for name in names:
        calls |= expand(groups[name], groups) if name.startswith("@") else {name}
    return calls


SANDBOXED_OPTIONS = {
    "User", "Group", "UMask", "LimitNOFILE", "StateDirectory", "WorkingDirectory", "ProtectSystem", "ProtectHome",
    "PrivateTmp", "PrivateDevices", "NoNewPrivileges", "CapabilityBoundingSet", "AmbientCapabilities",
    "RestrictAddressFamilies", "RestrictNamespaces", "SystemCallFilter", "SystemCallErrorNumber", "MemoryDenyWriteExecute",
}


def sandbox_spec():
    """What of deploy/ecosire.service the emulation applies, read from the unit itself."""
    settings = unit_settings(os.path.join(DEPLOY, "ecosire.service"))

    def value(key, default=None):
        values = settings.get(("Service", key))
        return values[-1] if values else default

    def flag(key):
        setting = value(key, "no")
        assert setting in ("yes", "no"), f"{key}={setting}: the emulation knows yes and no"
        return setting == "yes"

    assert value("ProtectSystem") in (None, "strict"), f"ProtectSystem={value('ProtectSystem')}: the emulation knows strict"
    assert value("ProtectHome", "no") in ("yes", "no"), "ProtectHome: the emulation knows yes and no"
    assert value("CapabilityBoundingSet", "") == "", "CapabilityBoundingSet: the emulation drops every capability"
    error_name = value("SystemCallErrorNumber", "EPERM")
    error = Seccomp.errno_action(getattr(errno, error_name))
    filters = settings.get(("Service", "SystemCallFilter"), [])
    allow = None
    if filters:
        groups = syscall_groups()
        allowed, denied = set(), set()
        for entry in filters:
            if entry.startswith("~"):
                denied |= expand(entry[1:].split(), groups)
            else:
                allowed |= expand(entry.split(), groups)
        allow = sorted(allowed - denied) if allowed else None
    families = value("RestrictAddressFamilies")
    numbers = {"AF_UNIX": 1, "AF_INET": 2, "AF_INET6": 10, "AF_NETLINK": 16, "AF_PACKET": 17}
    emulated = sorted(key for (section, key) in settings if section == "Service" and key in SANDBOXED_OPTIONS)
    others = sorted(key for (section, key) in settings if section == "Service" and key not in SANDBOXED_OPTIONS and (
        key.startswith(("Protect", "Private", "Restrict", "Lock", "Remove", "SystemCall", "Memory"))))
    return {
        "uid": SERVICE_UID, "umask": int(value("UMask", "0022"), 8), "nofile": int(value("LimitNOFILE", "1024")),
        "protect_system": value("ProtectSystem"), "protect_home": flag("ProtectHome"), "private_tmp": flag("PrivateTmp"),
        "private_devices": flag("PrivateDevices"), "no_new_privileges": flag("NoNewPrivileges"), "drop_capabilities": True,
        "mdwe": flag("MemoryDenyWriteExecute"), "restrict_namespaces": flag("RestrictNamespaces"), "errno": error, "allow": allow,
        "families": None if families is None else [numbers[f] for f in families.split()],
        "emulated": emulated, "not_emulated": others,
    }


def sandboxed(argv, writable, cwd):
    """ARGV wrapped in the emulated sandbox (as root), DATA_DIR-like WRITABLE paths kept writable."""
    if not ctx["sandboxing"]:
        return argv
    spec = dict(ctx["sandbox"], writable=writable, cwd=cwd, staging=ctx["staging"])
    hidden = ("/tmp/", "/var/tmp/", "/root/", "/home/", "/run/user/")
    for _, target in writable:
        # ProtectHome leaves nothing to put DATA_DIR back on under a home directory.
        assert not (target + "/").startswith(("/root/", "/home/", "/run/user/")), f"WORKDIR must not lie under a home directory: {target}"
    binary_dir = os.path.dirname(os.path.realpath(argv[0]))
    spec["visible"] = [[binary_dir, binary_dir]] if (binary_dir + "/").startswith(hidden) else []
    return [sys.executable, os.path.abspath(__file__), "--sandbox", json.dumps(spec), "--"] + argv


# ---------------------------------------------------------------- small helpers

def run(argv, timeout=60, check=True, **options):
    result = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, **options)
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(argv[:3])} … exited {result.returncode}: {(result.stderr or result.stdout).strip()[-800:]}")
    return result


HANDED_OUT = set()


def free_port():
    """A free loopback port not handed out before in this run (the kernel may offer one twice
    while the first taker has not bound it yet)."""
    while True:
        port = checklib.free_port()
        if port not in HANDED_OUT:
            HANDED_OUT.add(port)
            return port


def guide():
    with open(GUIDE) as f:
        return f.read()


def psql(url, statement):
    return run([os.path.join(ctx["pg_bin"], "psql"), url, "-v", "ON_ERROR_STOP=1", "-qAtc", statement], timeout=30).stdout.strip()


def fresh_database(name):
    """A new empty database on the --postgres cluster; its URL."""
    database = f"deployment_checks_{name}"
    psql(ctx["postgres"], f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
    psql(ctx["postgres"], f"CREATE DATABASE {database}")
    ctx.setdefault("databases", []).append(database)
    return urllib.parse.urlsplit(ctx["postgres"])._replace(path="/" + database).geturl()


# ---------------------------------------------------------------- environment files

def parse_env_file(text):
    """KEY → value as systemd's EnvironmentFile= reads it: `#`/`;` comments, KEY=value with leading
    blanks dropped, '…' taken as it is, "…" with backslash escapes of \\ " ` $, and unquoted values
    with backslash escapes and trailing blanks dropped. Other forms are refused (not used here)."""
    values = {}
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.lstrip()
        if not stripped or stripped[0] in "#;":
            continue
        match = re.fullmatch(r"([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)", stripped)
        assert match, f"line {number} is not KEY=value: {line!r}"
        key, rest = match.groups()
        if rest.startswith("'"):
            assert rest.endswith("'") and len(rest) >= 2 and "'" not in rest[1:-1], f"line {number}: one '…' value expected"
            value = rest[1:-1]
        elif rest.startswith('"'):
            assert rest.endswith('"') and len(rest) >= 2, f"line {number}: unterminated \"…\""
            value = re.sub(r'\\([\\"`$])', r"\1", rest[1:-1])
        else:
            assert "'" not in rest and '"' not in rest, f"line {number}: quotes inside an unquoted value"
            value = re.sub(r"\\(.)", r"\1", rest.rstrip())
        values[key] = value
    return values


def sh_env(paths):
    """The variables `set -a; . FILE…` gives a POSIX shell, for the keys of those files."""
    script = "set -a; " + "; ".join(f". '{p}'" for p in paths) + "; set +a; env -0"
    output = subprocess.run(["env", "-i", "PATH=/usr/bin:/bin", "sh", "-c", script], capture_output=True, check=True).stdout
    return dict(item.decode().split("=", 1) for item in output.split(b"\0") if b"=" in item)


def listed_keys(text):
    """Every KEY the file sets or shows commented out (`#KEY=…`)."""
    return sorted({m.group(1) for m in re.finditer(r"^\s*#?\s*([A-Z][A-Z0-9_]*)=", text, re.M)})


def readme_variables():
    with open(README) as f:
        text = f.read()
    section = text.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    names = set()
    for line in section.splitlines():
        if line.startswith("| `"):
            names |= set(re.findall(r"`([A-Z][A-Z0-9_]*)`", line.split("|")[1]))
    return names


def deploy_env(overrides):
    """deploy/ecosire.env as systemd reads it, with the keys in OVERRIDES (which it must set) swapped."""
    with open(os.path.join(DEPLOY, "ecosire.env")) as f:
        values = parse_env_file(f.read())
    for key in overrides:
        assert key in values, f"deploy/ecosire.env no longer sets {key}"
    return dict(values, **overrides)


def generated_secrets(data_dir=None):
    """deploy/generate-secrets.sh [DATA_DIR], run as the guide says (umask 077), parsed as systemd does."""
    path = os.path.join(ctx["work"], f"secrets-{uuid.uuid4().hex[:8]}.env")
    command = f"umask 077; '{os.path.join(DEPLOY, 'generate-secrets.sh')}'" + (f" '{data_dir}'" if data_dir else "") + f" > '{path}'"
    result = subprocess.run(["sh", "-c", command], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, f"generate-secrets.sh exited {result.returncode}: {result.stderr.strip()}"
    mode = os.stat(path).st_mode & 0o777
    equal(oct(mode), oct(0o600), f"mode of the written {os.path.basename(path)}")
    with open(path) as f:
        return path, parse_env_file(f.read()), result.stderr


def base_environment():
    """What every server process gets besides its configuration: no inherited settings."""
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8"}


# ---------------------------------------------------------------- servers

class Server:
    """One `BIN serve` on a fixed loopback port, in the emulated sandbox when running as root."""

    def __init__(self, name, env, shared=()):
        self.name = name
        self.dir = os.path.join(ctx["work"], name)
        shutil.rmtree(self.dir, ignore_errors=True)
        self.data = os.path.join(self.dir, "data")
        os.makedirs(self.data, mode=0o700)
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log_path = os.path.join(self.dir, "server.log")
        self.env = dict(base_environment(), **env)
        self.env.update(HOST="127.0.0.1", PORT=str(self.port), DATA_DIR=self.data)
        self.shared = list(shared)  # (directory elsewhere, path inside DATA_DIR): a shared mount
        for source, inside in self.shared:
            os.makedirs(source, exist_ok=True)
            os.makedirs(os.path.join(self.data, inside), exist_ok=True)
        self.process = None
        self.touched = False
        SERVERS.append(self)

    def own(self):
        if ctx["root"]:
            for top in [self.data] + [source for source, _ in self.shared]:
                for directory, _, files in os.walk(top):
                    for entry in [directory] + [os.path.join(directory, f) for f in files]:
                        os.lchown(entry, SERVICE_UID, SERVICE_UID)

    def launch(self):
        """Starts the process without waiting."""
        self.touched = True
        self.own()
        if not ctx["sandboxing"]:
            for source, inside in self.shared:  # a symlink stands in for the shared mount
                target = os.path.join(self.data, inside)
                if not os.path.islink(target):
                    os.rmdir(target)
                    os.symlink(source, target)
        writable = [[self.data, self.data]] + [[source, os.path.join(self.data, inside)] for source, inside in self.shared]
        with open(self.log_path, "ab") as log:
            log.write(f"---- start on port {self.port}\n".encode())
            log.flush()
            self.process = subprocess.Popen(sandboxed([ctx["binary"], "serve"], writable, self.data), env=self.env, cwd=self.dir,
                                            stdout=log, stderr=subprocess.STDOUT)
        return self

    def wait(self, seconds=30):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"{self.name} exited with {self.process.returncode} at start:\n{log_tail(self.log_path, 15)}")
            try:
                if request(self.base + "/api/health", "GET", timeout=2).status == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.05)
        raise AssertionError(f"{self.name} did not answer GET /api/health within {seconds} s")

    def start(self):
        return self.launch().wait()

    def stop(self, timeout=20):
        """SIGTERM; the exit status (None when it was not running)."""
        if self.process is None or self.process.poll() is not None:
            return None
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise AssertionError(f"{self.name} did not exit within {timeout} s of SIGTERM")

    def kill9(self):
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def call(self, method, path, body=None, **options):
        self.touched = True
        return request(self.base + path, method, body, **options)

    def metrics(self):
        answer = self.call("GET", "/metrics")
        assert answer.status == 200, f"{self.name} GET /metrics: {answer!r}"
        return answer.body.decode()

    def proxied(self):
        """Requests this instance answered other than /metrics and /api/health (what nginx sent it)."""
        return sum(value for name, labels, value in samples(self.metrics())
                   if name == "hb_requests" and labels.get("http_route") not in ("/metrics", "/api/health"))


def samples(text):
    """(name, labels, value) of every sample line of a Prometheus text exposition."""
    found = []
    for line in text.splitlines():
        match = re.match(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)", line)
        if match and not line.startswith("#"):
            labels = dict(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"', match.group(3) or ""))
            found.append((match.group(1), labels, float(match.group(4))))
    return found


def cli(args, env, timeout=60):
    """`BIN ARGS…` as the guide runs it: as the service user (runuser -u ecosire; `nobody` here)."""
    argv = [ctx["binary"]] + args
    if ctx["root"]:
        argv = ["runuser", "-u", "nobody", "--"] + argv
    return subprocess.run(argv, env=dict(base_environment(), **env), capture_output=True, text=True, timeout=timeout)


def register(base, email, password="correct-horse-9"):
    return expect(request(base + "/api/auth/register", "POST", {"email": email, "password": password, "name": "Operator"}), 201)


class Writer:
    """THREADS threads posting contacts, each with an Idempotency-Key, recording when each was sent
    and acknowledged."""

    def __init__(self, base, token, tag, threads=2):
        self.base, self.token, self.tag = base, token, tag
        self.records = []
        self.lock = threading.Lock()
        self.running = True
        self.threads = [threading.Thread(target=self.work, daemon=True) for _ in range(threads)]
        for thread in self.threads:
            thread.start()

    def work(self):
        while self.running:
            key = str(uuid.uuid4())
            sent = time.monotonic()
            try:
                answer = request(self.base + "/api/contacts", "POST", {"name": f"{self.tag} {key}"}, token=self.token,
                                 headers={"Idempotency-Key": key}, timeout=30)
                status, contact = answer.status, (answer.json.get("id") if answer.status == 201 else None)
            except OSError as error:
                status, contact = type(error).__name__, None
            with self.lock:
                self.records.append({"sent": sent, "acked": time.monotonic(), "status": status, "id": contact})

    def stop(self):
        self.running = False
        for thread in self.threads:
            thread.join(timeout=35)


def all_contacts(base, token):
    ids, page = set(), 1
    while True:
        data = expect(request(f"{base}/api/contacts?limit=100&page={page}", "GET", token=token), 200)
        ids |= {contact["id"] for contact in data["data"]}
        if page >= data["meta"]["totalPages"]:
            return ids
        page += 1


def round_trip_property(records, started, finished, restored, base, token):
    """Every contact acknowledged before the backup started is restored; every restored one was
    sent before it finished. Returns a note."""
    failures = [r for r in records if r["status"] != 201]
    assert not failures, f"{len(failures)} writes were not 201 during the load, e.g. {failures[:3]}"
    before = {r["id"] for r in records if r["acked"] < started}
    possible = {r["id"] for r in records if r["sent"] < finished}
    missing = before - restored
    assert not missing, f"{len(missing)} of {len(before)} contacts acknowledged before the backup started are missing"
    extra = restored - possible
    assert not extra, f"{len(extra)} restored contacts were sent after the backup finished"
    for contact in sorted(before):
        equal(request(f"{base}/api/contacts/{contact}", "GET", token=token).status, 200, f"GET /api/contacts/{contact}")
    during = sum(1 for r in records if started <= r["acked"] < finished)
    after = sum(1 for r in records if r["acked"] >= finished)
    return (f"{len(before)} acknowledged before it started all back (GET by id), {len(restored)} restored "
            f"(≤ {len(possible)} sent before it ended), {during} acknowledged during it, {after} after it not restored")


# ---------------------------------------------------------------- loopback peers: webhooks, SMTP, TLS

def start_receiver():
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Receiver(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        count = 0
        lock = threading.Lock()

        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            self.rfile.read(length)
            with Receiver.lock:
                Receiver.count += 1
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    ctx["receiver"], ctx["receiver_class"] = server, Receiver


def start_smtp():
    from aiosmtpd.controller import Controller

    class Mailbox:
        def __init__(self):
            self.messages = []

        async def handle_DATA(self, server, session, envelope):
            self.messages.append(envelope.content)
            return "250 2.0.0 Message accepted"

    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    ctx["smtp"], ctx["mailbox"] = controller, mailbox


class TLSConnection(http.client.HTTPConnection):
    """HTTPS to nginx on 127.0.0.1 from SOURCE (another loopback address), verifying the
    certificate for `localhost`."""

    def __init__(self, port, source, timeout):
        super().__init__("127.0.0.1", port, timeout=timeout)
        self.source = source

    def connect(self):
        raw = socket.create_connection(("127.0.0.1", self.port), self.timeout, (self.source, 0))
        self.sock = ctx["tls_context"].wrap_socket(raw, server_hostname="localhost")


def tls(method, path, body=None, token=None, headers=None, source="127.0.0.2", raw=None, content_type="application/json",
        timeout=30):
    """One request through nginx's TLS port; never raises on an error status."""
    port = ctx["tls_port"]
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    fields = {"Host": f"localhost:{port}"}
    if data is not None:
        fields["Content-Type"] = content_type
    if token:
        fields["Authorization"] = f"Bearer {token}"
    fields.update(headers or {})
    connection = TLSConnection(port, source, timeout)
    try:
        connection.request(method, path, body=data, headers=fields)
        response = connection.getresponse()
        return Answer(response.status, response.msg, response.read())
    finally:
        connection.close()


def login_window(needed=10):
    """Waits out the end of the current minute when fewer than NEEDED seconds are left: the login
    limit counts in fixed windows of 60 s."""
    left = 60 - time.time() % 60
    if left < needed:
        time.sleep(left + 0.2)


# ---------------------------------------------------------------- tools

def ensure_tools():
    """Debian's nginx and prometheus, PyPI's prometheus_client and aiosmtpd, installed when missing."""
    missing = [package for binary, package in (("/usr/sbin/nginx", "nginx"), ("/usr/bin/prometheus", "prometheus"),
                                               ("/usr/bin/promtool", "prometheus"), ("/usr/bin/systemd-analyze", "systemd"))
               if not os.path.exists(binary)]
    if missing and ctx["root"]:
        environment = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        install = ["apt-get", "install", "-y", "-qq", "--no-install-recommends"] + sorted(set(missing))
        if subprocess.run(install, env=environment, capture_output=True).returncode != 0:
            subprocess.run(["apt-get", "update", "-qq"], env=environment, capture_output=True)
            subprocess.run(install, env=environment, capture_output=True)
    for module, package in (("prometheus_client", "prometheus_client"), ("aiosmtpd", "aiosmtpd")):
        try:
            __import__(module)
        except ImportError:
            subprocess.run([sys.executable, "-m", "pip", "install", "-q", package], check=False)


# ---------------------------------------------------------------- checks: files

def check_guide_commands():
    """the guide shows, word for word, the commands these checks run (secrets, systemd-analyze, the backup and restore as the service user, migrate, nginx -t, promtool)"""
    text = guide()
    missing = [command for command in GUIDE_COMMANDS if command not in text]
    assert not missing, f"not in docs/deployment.md: {missing}"


def check_binary():
    """the binary: `ldd` finds every library it links (the guide's `ldd … | grep 'not found'` prints nothing), and `ecosire serve --help` offers --host and --port"""
    linked = run(["ldd", ctx["binary"]]).stdout
    missing = [line.strip() for line in linked.splitlines() if "not found" in line]
    assert not missing, f"libraries not found: {missing}"
    usage = run([ctx["binary"], "serve", "--help"]).stdout
    for option in ("--host <host>", "--port <port>"):
        assert option in usage, f"`ecosire serve --help` lacks {option}: {usage.strip()}"
    runtime = next((line.split("=>")[1].split("(")[0].strip() for line in linked.splitlines() if "libswiftCore.so" in line), None)
    return f"Swift runtime from {os.path.dirname(runtime)}" if runtime else "Swift runtime linked statically"


def check_env_file():
    """deploy/ecosire.env: every variable it sets or shows commented out is in README's configuration table, and the file reads the same under systemd's rules and under sh's `.`"""
    path = os.path.join(DEPLOY, "ecosire.env")
    with open(path) as f:
        text = f.read()
    known = readme_variables()
    assert len(known) > 40, f"only {len(known)} variables found in README's table"
    unknown = [key for key in listed_keys(text) if key not in known]
    assert not unknown, f"not in README.md's configuration table: {unknown}"
    systemd = parse_env_file(text)
    shell = sh_env([path])
    different = {key: (value, shell.get(key)) for key, value in systemd.items() if shell.get(key) != value}
    assert not different, f"systemd and sh read these differently: {different}"
    return f"{len(systemd)} set, {len(listed_keys(text)) - len(systemd)} shown commented out"


def check_secrets_fresh():
    """deploy/generate-secrets.sh (umask 077 → mode 0600): the four secrets in systemd syntax (the same under sh), Ed25519 keys that openssl reads, a base64 SECRETS_KEY of 32 bytes, listed variables all in README; a second run differs"""
    path, values, _ = generated_secrets()
    with open(path) as f:
        text = f.read()
    equal(sorted(values), ["ECOSIRE_LICENSE_SECRET", "JWT_PRIVATE_KEY", "LICENSE_SIGNING_KEY", "SECRETS_KEY"], "variables set")
    unknown = [key for key in listed_keys(text) if key not in readme_variables()]
    assert not unknown, f"not in README.md's configuration table: {unknown}"
    shell = sh_env([path])
    for key, value in values.items():
        equal(shell.get(key), value, f"{key} under sh")
    for key in ("JWT_PRIVATE_KEY", "LICENSE_SIGNING_KEY"):
        pem = values[key].replace("\\n", "\n")
        result = subprocess.run(["openssl", "pkey", "-noout", "-text"], input=pem, capture_output=True, text=True)
        assert result.returncode == 0 and "ED25519" in result.stdout.upper(), f"{key} is not an Ed25519 key openssl reads"
    equal(len(base64.b64decode(values["SECRETS_KEY"], validate=True)), 32, "bytes in SECRETS_KEY")
    _, again, _ = generated_secrets()
    same = [key for key in values if values[key] == again[key]]
    assert not same, f"a second run repeated {same}"
    ctx["secrets_path"], ctx["secrets"] = path, values


def check_unit_verify():
    """deploy/ecosire.service: systemd-analyze verify (ExecStart pointed at BIN) passes without a warning"""
    with open(os.path.join(DEPLOY, "ecosire.service")) as f:
        unit = f.read()
    assert unit.count("ExecStart=/usr/local/bin/ecosire serve") == 1, "ExecStart is no longer /usr/local/bin/ecosire serve"
    directory = os.path.join(ctx["work"], "unit")
    os.makedirs(directory, exist_ok=True)
    copy = os.path.join(directory, "ecosire.service")
    with open(copy, "w") as f:
        f.write(unit.replace("ExecStart=/usr/local/bin/ecosire", f"ExecStart={ctx['binary']}"))
    result = run(["systemd-analyze", "verify", copy], check=False)
    output = (result.stdout + result.stderr).strip()
    assert result.returncode == 0 and not output, f"systemd-analyze verify exited {result.returncode}: {output}"
    ctx["unit_copy"] = copy


def check_unit_security():
    """deploy/ecosire.service: systemd-analyze security --offline=true rates its exposure at most 2.0 ("OK")"""
    copy = ctx["unit_copy"]
    result = run(["systemd-analyze", "security", "--offline=true", "--threshold=20", "--no-pager", copy], check=False)
    match = re.search(r"Overall exposure level for \S+: (\d+\.\d+) (\w+)", result.stdout)
    assert match, f"no exposure level in the output (exit {result.returncode}): {(result.stdout + result.stderr)[-400:]}"
    assert result.returncode == 0 and float(match.group(1)) <= 2.0, f"exposure {match.group(1)} {match.group(2)}"
    weak = [line.split()[1] for line in result.stdout.splitlines() if line.startswith("✗")]
    return f"{match.group(1)} {match.group(2)}; not set: {', '.join(weak)}"


def check_sandbox():
    """the unit's sandbox, emulated from its options: as an unprivileged user, the file system is read-only but DATA_DIR, /tmp and /dev are private, /root is an empty tmpfs, setpriority is refused (SystemCallFilter), W+X memory too (MemoryDenyWriteExecute), netlink sockets too (RestrictAddressFamilies)"""
    if "sandbox_error" in ctx:
        raise AssertionError(f"deploy/ecosire.service cannot be emulated: {ctx['sandbox_error']}")
    assert ctx["root"], "the emulation needs root (mount namespaces, another user); servers here run unsandboxed"
    spec = ctx["sandbox"]
    data = os.path.join(ctx["work"], "probe-data")
    shutil.rmtree(data, ignore_errors=True)
    os.makedirs(data, mode=0o700)
    os.chown(data, SERVICE_UID, SERVICE_UID)
    python = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else None
    probe = (
        # Read-only (not merely not ours), a tmpfs over /tmp and over /root: what the sandbox changes.
        "id -u; touch /usr/local/ecosire-probe 2>&1 | grep -q 'Read-only file system' && echo usr-ro || echo usr-writable; "
        f"touch '{data}/probe' && echo data-writable; echo $(stat -f -c %T /tmp) $(ls -A /tmp); stat -f -c %T /root; "
        "ls /dev | tr '\\n' ' '; echo; nice -n 1 true 2>&1 | grep -q 'Operation not permitted' && echo nice-refused || echo nice-allowed; "
    )
    if python:
        probe += (f"{python} -c \"import mmap, socket\ntry:\n mmap.mmap(-1, 4096, prot=mmap.PROT_WRITE | mmap.PROT_EXEC); print('wx-allowed')\n"
                  "except OSError: print('wx-refused')\ntry:\n socket.socket(socket.AF_NETLINK, socket.SOCK_RAW); print('netlink-allowed')\n"
                  "except OSError: print('netlink-refused')\"")
    result = subprocess.run(sandboxed(["/bin/sh", "-c", probe], [[data, data]], data), capture_output=True, text=True, timeout=30,
                            env=base_environment())
    lines = result.stdout.split("\n")
    assert result.returncode == 0, f"the probe exited {result.returncode}: {result.stderr.strip()[-600:]}"
    equal(lines[0], str(SERVICE_UID), "uid inside")
    equal(lines[1:3], ["usr-ro", "data-writable"], "writes to /usr/local and DATA_DIR")
    # Empty but for the way to DATA_DIR when that lies under /tmp (here; /var/lib/ecosire in production).
    inside = data[len("/tmp/"):].split("/")[0] if data.startswith("/tmp/") else ""
    equal(lines[3].strip(), f"tmpfs {inside}".strip(), "file system and entries of the private /tmp")
    equal(lines[4], "tmpfs", "file system on /root")
    assert "sda" not in lines[5] and "vda" not in lines[5] and "null" in lines[5], f"/dev holds {lines[5]}"
    equal(lines[6], "nice-refused", "setpriority")
    if python:
        equal(lines[7:9], ["wx-refused", "netlink-refused"], "W+X mapping and AF_NETLINK socket")
    return f"emulated: {', '.join(spec['emulated'])}; not emulated: {', '.join(spec['not_emulated'])}"


def check_env_server():
    """`ecosire serve` with deploy/ecosire.env (HOST, PORT, DATA_DIR, TRUSTED_PROXIES and PUBLIC_URL swapped for loopback ones) starts in the sandbox on SQLite, answers /api/health/ready and sends HSTS (SECURE_COOKIES=true)"""
    env = deploy_env({"HOST": "127.0.0.1", "PORT": "0", "DATA_DIR": "-", "TRUSTED_PROXIES": "127.0.0.1",
                      "PUBLIC_URL": "https://localhost"})
    server = Server("env-file", env).start()
    ctx["env_server"] = server
    answer = server.call("GET", "/api/health/ready")
    equal(expect(answer, 200)["status"], "ready", "readiness")
    equal(answer.headers.get_all("Strict-Transport-Security"), ["max-age=31536000; includeSubDomains"], "Strict-Transport-Security")
    keys = sorted(os.listdir(server.data))
    assert "ecosire.sqlite" in keys and "jwt-ed25519.pem" in keys, f"DATA_DIR holds {keys}"
    return "sandboxed" if ctx["sandboxing"] else "not sandboxed"


def check_json_logs():
    """LOG_FORMAT=json, as deploy/ecosire.env sets it: a request's log line reaches standard output (the journal) within 2 s, not when a 4 KiB buffer fills or never after kill -9"""
    server = ctx["env_server"]
    marker = "deployment-check-" + uuid.uuid4().hex[:12]
    expect(server.call("GET", "/api/health", headers={"X-Request-Id": marker}), 200)

    def logged():
        with open(server.log_path, "rb") as f:
            return marker.encode() in f.read()
    try:
        poll(logged, 2, "the request's log line")
    except AssertionError:
        size = os.path.getsize(server.log_path)
        server.kill9()
        raise AssertionError(f"no log line for request {marker} after 2 s (log {size} bytes; "
                             f"after kill -9 {'still none' if not logged() else 'it appeared'}): JSONLogHandler prints "
                             "through stdout's buffer, which is not flushed per line when stdout is not a terminal")
    finally:
        server.stop()


def check_secrets_carry_over():
    """generate-secrets.sh DATA_DIR carries a server's generated keys over: restarted with only that file (the key files moved away), an access token issued before still works, JWKS and the license signing key are unchanged, a stored webhook secret still decrypts; with another SECRETS_KEY it does not"""
    env = {"BCRYPT_COST": "4", "LOG_LEVEL": "warning", "WEBHOOK_ALLOW_PRIVATE_URLS": "true"}
    server = Server("carry-over", env).start()
    owner = register(server.base, "owner@carry.example.com")
    endpoint = expect(server.call("POST", "/api/webhooks/endpoints", {"url": f"http://127.0.0.1:{ctx['receiver'].server_port}/never",
                                                                       "events": ["license.revoked"]}, token=owner["token"]), 201)
    jwks = expect(server.call("GET", "/.well-known/jwks.json"), 200)
    signing = expect(server.call("GET", "/api/licenses/signing-key"), 200)["publicKey"]
    equal(server.stop(), 0, "exit status after SIGTERM")
    _, secrets, notes = generated_secrets(server.data)
    assert "generating a new one" not in notes, f"generate-secrets.sh did not find every key: {notes.strip()}"
    aside = os.path.join(server.dir, "keys-moved-away")
    os.makedirs(aside)
    for name in ("jwt-ed25519.pem", "license-ed25519.pem", "license-secret", "secrets-key"):
        shutil.move(os.path.join(server.data, name), os.path.join(aside, name))
    server.env.update(secrets)
    server.start()
    equal(server.call("GET", "/api/users/me", token=owner["token"]).status, 200, "GET /api/users/me with the old token")
    equal(expect(server.call("GET", "/.well-known/jwks.json"), 200), jwks, "JWKS")
    equal(expect(server.call("GET", "/api/licenses/signing-key"), 200)["publicKey"], signing, "license signing key")
    curl = f"/api/webhooks/events/contact.created/curl?endpointId={endpoint['id']}"
    equal(server.call("GET", curl, token=owner["token"]).status, 200, "the cURL generator (decrypts the endpoint's secret)")
    with open(os.path.join(aside, "license-secret")) as f:
        equal(secrets["ECOSIRE_LICENSE_SECRET"], f.read().strip(), "ECOSIRE_LICENSE_SECRET")
    regenerated = sorted(set(os.listdir(server.data)) & {"jwt-ed25519.pem", "license-ed25519.pem", "license-secret", "secrets-key"})
    assert not regenerated, f"the server generated {regenerated} again: the variables were not used"
    equal(server.stop(), 0, "exit status after SIGTERM")
    server.env["SECRETS_KEY"] = base64.b64encode(os.urandom(32)).decode()
    server.start()
    equal(server.call("GET", curl, token=owner["token"]).status, 409, "the cURL generator with another SECRETS_KEY")
    server.stop()


# ---------------------------------------------------------------- checks: two instances behind nginx

def pair_env(url):
    secrets = dict(ctx["secrets"], DATABASE_URL=url, SMTP_URL=f"smtp://127.0.0.1:{ctx['smtp'].port}")
    overrides = {"BCRYPT_COST": "4", "RATE_LIMIT_LOGIN": "3", "RATE_LIMIT_DEFAULT": "1000000", "QUOTA_FREE": "0",
                 "WEBHOOK_ALLOW_PRIVATE_URLS": "true", "USAGE_FLUSH_MILLIS": "200", "EMAIL_POLL_MILLIS": "100"}
    base = deploy_env({"HOST": "-", "PORT": "-", "DATA_DIR": "-", "TRUSTED_PROXIES": "127.0.0.1",
                       "PUBLIC_URL": f"https://localhost:{ctx['tls_port']}"})
    return dict(base, **secrets, **overrides)


def check_pair_start():
    """two instances started at the same moment on one empty PostgreSQL database (deploy/ecosire.env, the generated secrets, MIGRATE_ON_START=true) both start; every migration applied once; one JWKS, so a token from one works on the other"""
    ctx["tls_port"], ctx["http_port"] = free_port(), free_port()
    url = fresh_database("pair")
    env = pair_env(url)
    first = Server("pair-1", env)
    second = Server("pair-2", env, shared=[(os.path.join(first.data, "product-files"), "product-files")])
    ctx["pair"], ctx["pair_url"] = [first, second], url
    first.launch()
    second.launch()
    first.wait()
    second.wait()
    rows = psql(url, "SELECT count(*), count(DISTINCT id) FROM schema_migrations")
    count = int(rows.split("|")[0])
    equal(rows, f"{count}|{count}", "migrations recorded, distinct")
    assert count > 20, f"only {count} migrations recorded"
    for server in (first, second):
        equal(expect(server.call("GET", "/api/health/ready"), 200)["pendingMigrations"], [], f"{server.name} pending migrations")
    equal(expect(first.call("GET", "/.well-known/jwks.json"), 200), expect(second.call("GET", "/.well-known/jwks.json"), 200), "JWKS")
    owner = register(first.base, "owner@deploy.example.com")
    equal(second.call("GET", "/api/users/me", token=owner["token"]).status, 200, "the token of one instance on the other")
    ctx["owner"] = owner
    hook = {"url": f"http://127.0.0.1:{ctx['receiver'].server_port}/hooks", "events": ["contact.created"]}
    expect(second.call("POST", "/api/webhooks/endpoints", hook, token=owner["token"]), 201)
    kept = sorted(set(os.listdir(first.data)) & {"jwt-ed25519.pem", "license-ed25519.pem", "license-secret", "secrets-key"})
    assert not kept, f"an instance generated {kept}: the secrets file was not used"
    return f"{count} migrations"


def render_deploy_file(name, replacements):
    """deploy/NAME with each (placeholder, value) replaced; every placeholder must occur exactly once."""
    with open(os.path.join(DEPLOY, name)) as f:
        text = f.read()
    for old, new in replacements:
        equal(text.count(old), 1, f"occurrences of {old!r} in deploy/{name}")
        text = text.replace(old, new)
    return text


def render_nginx():
    """deploy/nginx.conf with only its addresses, ports and certificate paths replaced."""
    first, second = ctx["pair"]
    return render_deploy_file("nginx.conf", [
        ("listen 80;", f"listen 127.0.0.1:{ctx['http_port']};"),
        ("listen [::]:80;", f"listen [::1]:{ctx['http_port']};"),
        ("listen 443 ssl http2;", f"listen 127.0.0.1:{ctx['tls_port']} ssl http2;"),
        ("listen [::]:443 ssl http2;", f"listen [::1]:{ctx['tls_port']} ssl http2;"),
        ("server 10.0.0.11:8080 ", f"server 127.0.0.1:{first.port} "),
        ("server 10.0.0.12:8080 ", f"server 127.0.0.1:{second.port} "),
        ("/etc/letsencrypt/live/api.example.com/fullchain.pem", ctx["cert"]),
        ("/etc/letsencrypt/live/api.example.com/privkey.pem", ctx["key"]),
    ])


def check_nginx_config():
    """deploy/nginx.conf, with only addresses, ports and certificate paths replaced, passes nginx -t and Debian's nginx serves it with a self-signed certificate"""
    directory = os.path.join(ctx["work"], "nginx")
    shutil.rmtree(directory, ignore_errors=True)
    os.makedirs(directory)
    ctx["cert"], ctx["key"] = os.path.join(directory, "cert.pem"), os.path.join(directory, "key.pem")
    run(["openssl", "req", "-x509", "-newkey", "ed25519", "-nodes", "-days", "2", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1", "-keyout", ctx["key"], "-out", ctx["cert"]])
    with open(os.path.join(directory, "ecosire.conf"), "w") as f:
        f.write(render_nginx())
    # The http { } that Debian's /etc/nginx/nginx.conf would be, with every path in DIRECTORY.
    main = f"""{'user root;' if ctx['root'] else ''}
worker_processes 2;
pid {directory}/nginx.pid;
error_log {directory}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log {directory}/access.log;
    client_body_temp_path {directory}/client_body;
    proxy_temp_path {directory}/proxy;
    fastcgi_temp_path {directory}/fastcgi;
    uwsgi_temp_path {directory}/uwsgi;
    scgi_temp_path {directory}/scgi;
    include {directory}/ecosire.conf;
}}
"""
    conf = os.path.join(directory, "nginx.conf")
    with open(conf, "w") as f:
        f.write(main)
    nginx = ["/usr/sbin/nginx", "-p", directory + "/", "-c", conf, "-e", os.path.join(directory, "error.log")]
    ctx["nginx_command"], ctx["nginx_include"] = nginx, os.path.join(directory, "ecosire.conf")
    assert os.path.exists(nginx[0]), "Debian's nginx is not installed (apt-get install nginx)"
    tested = run(nginx + ["-t"], check=False)
    assert tested.returncode == 0 and "test is successful" in tested.stderr, f"nginx -t: {tested.stderr.strip()}"
    warnings = [line for line in tested.stderr.splitlines() if "[warn]" in line]
    process = subprocess.Popen(nginx + ["-g", "daemon off;"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    PROCESSES.append(process)
    ctx["nginx"] = process
    context = ssl.create_default_context(cafile=ctx["cert"])
    ctx["tls_context"] = context

    def up():
        try:
            return tls("GET", "/api/health").status == 200
        except OSError:
            return False
    poll(up, 10, "nginx answering GET /api/health over TLS")
    return "nginx -t warnings: " + "; ".join(warnings) if warnings else None


def check_redirect():
    """plain HTTP answers 301 to https://HOST/ with the same path and query"""
    connection = http.client.HTTPConnection("127.0.0.1", ctx["http_port"], timeout=10)
    connection.request("GET", "/api/contacts?limit=5", headers={"Host": f"localhost:{ctx['http_port']}"})
    response = connection.getresponse()
    response.read()
    connection.close()
    equal(response.status, 301, "status")
    equal(response.getheader("Location"), "https://localhost/api/contacts?limit=5", "Location")


def check_tls_cookies_hsts():
    """through nginx: the certificate verifies for localhost, login sets the access, refresh and CSRF cookies with Secure (HttpOnly but the CSRF one), and every answer carries Strict-Transport-Security exactly once"""
    answer = tls("POST", "/api/auth/login", {"email": "owner@deploy.example.com", "password": "correct-horse-9"})
    expect(answer, 200)
    cookies = answer.headers.get_all("Set-Cookie") or []
    equal(len(cookies), 3, "Set-Cookie headers")
    for cookie in cookies:
        attributes = [part.strip().lower() for part in cookie.split(";")[1:]]
        assert "secure" in attributes, f"no Secure in {cookie.split('=')[0]}: {attributes}"
    http_only = sorted(cookie.split("=")[0] for cookie in cookies if "httponly" in cookie.lower())
    equal(len(http_only), 2, f"HttpOnly cookies ({http_only})")
    for path in ("/api/auth/login", "/api/health", "/api/no-such-route", "/docs"):
        answer = tls("POST" if path.endswith("login") else "GET", path, {"email": "x@example.com", "password": "y"} if "login" in path else None)
        equal(len(answer.headers.get_all("Strict-Transport-Security") or []), 1, f"Strict-Transport-Security headers on {path} ({answer.status})")
    cipher = TLSConnection(ctx["tls_port"], "127.0.0.2", 10)
    cipher.connect()
    version = cipher.sock.version()
    cipher.close()
    return version


def check_spread():
    """round robin with no sticky sessions: 10 readiness checks through nginx answer 200 and reach both instances (each instance's hb_requests)"""
    first, second = ctx["pair"]

    def ready_count(server):
        return sum(value for name, labels, value in samples(server.metrics())
                   if name == "hb_requests" and labels.get("http_route") == "/api/health/ready")
    before = [ready_count(first), ready_count(second)]
    for _ in range(10):
        equal(expect(tls("GET", "/api/health/ready"), 200)["status"], "ready", "readiness through nginx")
    after = [ready_count(first), ready_count(second)]
    served = [int(after[0] - before[0]), int(after[1] - before[1])]
    equal(sum(served), 10, "readiness checks the instances answered")
    assert min(served) > 0, f"one instance got none: {served}"
    return f"{served[0]} and {served[1]}"


def check_metrics_hidden():
    """/metrics, /metrics/, //metrics, /metrics?x=1 and /%6detrics answer 404 through nginx while each instance serves /metrics itself"""
    for path in ("/metrics", "/metrics/", "//metrics", "/metrics?x=1", "/%6detrics", "/metrics/../metrics"):
        answer = tls("GET", path)
        equal(answer.status, 404, f"GET {path} through nginx")
        assert b"ecosire_" not in answer.body, f"GET {path} through nginx shows metrics"
    for server in ctx["pair"]:
        assert "ecosire_database_wait_seconds" in server.metrics(), f"{server.name} /metrics lacks the database metrics"


def check_client_ip():
    """the client's address reaches the instances: nginx replaces a forged X-Forwarded-For, so it does not escape the login limit (RATE_LIMIT_LOGIN=3), not even from a trusted address (where an appended header would), another client address has its own count, and an API key's audit log records the client's address; straight to an instance, a trusted peer's header is believed"""
    login_window()
    email = f"limit-{uuid.uuid4().hex[:8]}@deploy.example.com"
    body = {"email": email, "password": "wrong-password"}
    statuses = [tls("POST", "/api/auth/login", body, source="127.0.0.2").status for _ in range(3)]
    equal(statuses, [401, 401, 401], "three failed logins from 127.0.0.2")
    for forged in ("1.2.3.4", "127.0.0.9, 10.1.2.3"):
        equal(tls("POST", "/api/auth/login", body, source="127.0.0.2", headers={"X-Forwarded-For": forged}).status, 429,
              f"the fourth with X-Forwarded-For: {forged}")
    equal(tls("POST", "/api/auth/login", body, source="127.0.0.3").status, 401, "the same email from 127.0.0.3")
    # A client whose own address is a trusted proxy (here nginx's host itself): an appended header
    # ("1.2.3.4, 127.0.0.1") would make 1.2.3.4 its address; the header set by nginx does not.
    local = {"email": f"local-{uuid.uuid4().hex[:8]}@deploy.example.com", "password": "wrong-password"}
    equal([tls("POST", "/api/auth/login", local, source="127.0.0.1").status for _ in range(3)], [401, 401, 401],
          "three failed logins from 127.0.0.1")
    equal(tls("POST", "/api/auth/login", local, source="127.0.0.1", headers={"X-Forwarded-For": "1.2.3.4"}).status, 429,
          "the fourth from 127.0.0.1 with X-Forwarded-For: 1.2.3.4")
    first, _ = ctx["pair"]
    equal(first.call("POST", "/api/auth/login", body, headers={"X-Forwarded-For": "1.2.3.4"}).status, 401,
          "straight to an instance from 127.0.0.1 (trusted) claiming 1.2.3.4")
    token = ctx["owner"]["token"]
    key = expect(tls("POST", "/api/api-keys", {"name": "ip check", "scope": "read_only"}, token=token), 201)["api_key"]
    equal(tls("GET", "/api/contacts?limit=1", headers={"Authorization": f"Bearer {key['key']}", "X-Forwarded-For": "1.2.3.4"},
              source="127.0.0.3").status, 200, "GET /api/contacts with the key")

    def audited():
        entries = expect(tls("GET", f"/api/api-keys/{key['id']}/audit", token=token), 200)["audit"]
        return [entry["ip"] for entry in entries if entry["path"] == "/api/contacts"]
    equal(poll(audited, 10, "the audit entry"), ["127.0.0.3"], "audited client address")


def check_shared_limit():
    """one login limit across both instances (counters in PostgreSQL): 6 attempts alternating between them with RATE_LIMIT_LOGIN=3 are 401, 401, 401, then 429, 429, 429, with X-RateLimit-Remaining 2, 1, 0"""
    login_window()
    first, second = ctx["pair"]
    email = f"shared-{uuid.uuid4().hex[:8]}@deploy.example.com"
    answers = [(first, second)[i % 2].call("POST", "/api/auth/login", {"email": email, "password": "wrong-password"}) for i in range(6)]
    equal([a.status for a in answers], [401, 401, 401, 429, 429, 429], "statuses")
    equal([a.headers.get("X-RateLimit-Remaining") for a in answers[:3]], ["2", "1", "0"], "X-RateLimit-Remaining")
    equal(len({a.headers.get("X-RateLimit-Reset") for a in answers}), 1, "windows (X-RateLimit-Reset values)")


def check_product_files():
    """product files uploaded through one instance download from the other when DATA_DIR/product-files is one shared directory (a bind mount here, NFS or the like in production)"""
    first, second = ctx["pair"]
    token = ctx["owner"]["token"]
    product = expect(first.call("POST", "/api/products", {"name": "Deployment check", "sku": "SKU-" + uuid.uuid4().hex[:8],
                                                          "price": 100, "type": "digital"}, token=token), 201)
    archive = b"PK\x03\x04" + os.urandom(2048)
    boundary = "----deployment" + uuid.uuid4().hex
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"productId\"\r\n\r\n{product['id']}\r\n"
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"version\"\r\n\r\n1.0.0\r\n"
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"check.zip\"\r\n"
            "Content-Type: application/zip\r\n\r\n").encode() + archive + f"\r\n--{boundary}--\r\n".encode()
    stored = expect(first.call("POST", "/api/admin/product-files/upload", raw=body, token=token,
                               content_type=f"multipart/form-data; boundary={boundary}"), 201)
    digest = hashlib.sha256(archive).hexdigest()
    for server in (second, first):
        answer = server.call("GET", stored["downloadUrl"], token=token)
        equal(answer.status, 200, f"download from {server.name}")
        equal(answer.body == archive, True, f"bytes downloaded from {server.name} are the upload")
        equal(answer.headers.get("X-Checksum-SHA256"), digest, f"X-Checksum-SHA256 from {server.name}")


def check_email():
    """email: the instances send through SMTP_URL, and the From header is deploy/ecosire.env's EMAIL_FROM as systemd reads it ("Ecosire" <no-reply@example.com>)"""
    before = len(ctx["mailbox"].messages)
    support = {"name": "Ada Lovelace", "email": "ada@deploy.example.com", "subject": "Deployment check", "message": "Checking the mail."}
    expect(tls("POST", "/api/support", support), 201)
    message = poll(lambda: ctx["mailbox"].messages[before:] and ctx["mailbox"].messages[before], 15, "the acknowledgement email")
    from email import message_from_bytes
    equal(message_from_bytes(message)["From"], deploy_env({})["EMAIL_FROM"], "From")
    equal(deploy_env({})["EMAIL_FROM"], '"Ecosire" <no-reply@example.com>', "EMAIL_FROM")


def traffic(count, token, source="127.0.0.2"):
    """COUNT requests through nginx, one after the other, alternating a list read and a keyed post."""
    statuses = []
    for i in range(count):
        if i % 2:
            answer = tls("POST", "/api/contacts", {"name": f"Traffic {i}"}, token=token, source=source,
                         headers={"Idempotency-Key": str(uuid.uuid4())})
        else:
            answer = tls("GET", "/api/contacts?limit=1", token=token, source=source)
        statuses.append(answer.status)
    return statuses


def back_in_rotation(server, started, seconds=25, baseline=0):
    """Waits until nginx sends SERVER requests again (more than BASELINE since it started); seconds taken."""
    def served():
        try:
            tls("GET", "/api/health/ready")
            return server.proxied() > baseline
        except OSError:
            return False
    poll(served, seconds, f"nginx sending {server.name} requests again", interval=0.2)
    return time.monotonic() - started


def check_kill9():
    """kill -9 of one instance, then (once it is back) of the other: GETs and POSTs through nginx go on (no 502 after at most the first); restarted on its port, each is back in rotation"""
    token = ctx["owner"]["token"]
    notes = []
    for server in ctx["pair"]:
        server.kill9()
        statuses = traffic(20, token)
        failed = [s for s in statuses[1:] if not 200 <= s < 300]
        assert not failed and (200 <= statuses[0] < 300 or statuses[0] == 502), f"statuses through nginx after killing {server.name}: {statuses}"
        started = time.monotonic()
        server.start()
        notes.append(f"{server.name}: {statuses.count(502)} × 502 of 20, back in rotation {back_in_rotation(server, started):.1f} s after the restart")
    return "; ".join(notes)


class Load:
    """THREADS threads through nginx alternating a list read and a keyed contact post."""

    def __init__(self, token, threads=3):
        self.token, self.answers, self.running = token, [], True
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self.work, args=(i,), daemon=True) for i in range(threads)]
        for thread in self.threads:
            thread.start()

    def work(self, index):
        turn = 0
        while self.running:
            turn += 1
            try:
                if turn % 2:
                    status = tls("GET", "/api/contacts?limit=1", token=self.token, source=f"127.0.1.{index + 1}").status
                else:
                    status = tls("POST", "/api/contacts", {"name": "Rolling"}, token=self.token, source=f"127.0.1.{index + 1}",
                                 headers={"Idempotency-Key": str(uuid.uuid4())}).status
            except OSError as error:
                status = type(error).__name__
            with self.lock:
                self.answers.append(status)

    def stop(self):
        self.running = False
        for thread in self.threads:
            thread.join(timeout=35)


def guide_command(command, server):
    """A command of the guide for instance SERVER on this machine: its address, the nginx include
    file and how this nginx is reloaded put in."""
    return (command.replace("10\\.0\\.0\\.11:8080", f"127\\.0\\.0\\.1:{server.port}")
            .replace("10.0.0.11:8080", f"127.0.0.1:{server.port}")
            .replace("/etc/nginx/conf.d/ecosire.conf", ctx["nginx_include"])
            .replace("nginx -s reload", " ".join(ctx["nginx_command"]) + " -s reload"))


def settled(server, seconds=10):
    """Waits until nginx sends SERVER nothing more (its count stays put for 0.6 s)."""
    def still():
        before = server.proxied()
        time.sleep(0.6)
        return server.proxied() == before
    poll(still, seconds, f"nginx to stop sending {server.name} requests", interval=0)


def check_rolling_restart():
    """rolling restart under load, the guide's way: for each instance, take it out of nginx (`down`, reload), SIGTERM, start, readiness 200 (curl), put it back: every request through nginx is answered 2xx, each instance exits 0 and serves again"""
    first, second = ctx["pair"]
    load = Load(ctx["owner"]["token"])
    notes = []
    try:
        for server in (second, first):
            run(["sh", "-c", guide_command(TAKE_OUT, server)])
            with open(ctx["nginx_include"]) as f:
                equal(f.read().count(" down;"), 1, "servers marked down")
            settled(server)
            started = time.monotonic()
            equal(server.stop(), 0, f"{server.name} exit status after SIGTERM")
            server.launch()
            poll(lambda: subprocess.run(["sh", "-c", guide_command("curl -fsS http://10.0.0.11:8080/api/health/ready", server)],
                                        capture_output=True).returncode == 0, 30, f"{server.name} ready", interval=0.1)
            baseline = server.proxied()
            run(["sh", "-c", guide_command(PUT_BACK, server)])
            notes.append(f"{server.name} out for {time.monotonic() - started:.1f} s, back in rotation "
                         f"{back_in_rotation(server, time.monotonic(), baseline=baseline):.1f} s after the reload")
    finally:
        load.stop()
    bad = [status for status in load.answers if not (isinstance(status, int) and 200 <= status < 300)]
    assert len(load.answers) > 50, f"only {len(load.answers)} requests during the restart"
    assert not bad, f"{len(bad)} of {len(load.answers)} requests failed: {sorted(set(map(str, bad)))}"
    return f"{len(load.answers)} requests; " + "; ".join(notes)


def check_migrate():
    """ecosire migrate (as the service user): applies every migration to an empty database, then "Database is up to date." (also on the database two instances are serving); MIGRATE_ON_START=false on an empty database refuses to start; readiness is 503 listing a migration the database lacks"""
    url = fresh_database("migrate")
    env = {"DATABASE_URL": url, "DATA_DIR": os.path.join(ctx["work"], "migrate-data")}
    os.makedirs(env["DATA_DIR"], exist_ok=True)
    if ctx["root"]:
        os.chown(env["DATA_DIR"], SERVICE_UID, SERVICE_UID)
    first = cli(["migrate"], env)
    assert first.returncode == 0, f"migrate exited {first.returncode}: {first.stderr.strip()}"
    # Log lines (LOG_LEVEL=info) come first, then the summary.
    match = re.search(r"^Applied (\d+) migration\(s\):\n((?:.+\n?)+)\Z", first.stdout, re.M)
    assert match, f"first migrate printed {first.stdout[-300:]!r}"
    applied = match.group(2).split()
    equal(int(match.group(1)), len(applied), "migrations listed")
    for database, what in ((url, "again"), (ctx["pair_url"], "on the serving database")):
        again = cli(["migrate"], dict(env, DATABASE_URL=database))
        equal((again.returncode, again.stdout.strip().splitlines()[-1:]), (0, ["Database is up to date."]), f"migrate {what}")
    empty = fresh_database("unmigrated")
    server = Server("unmigrated", {"DATABASE_URL": empty, "MIGRATE_ON_START": "false", "LOG_LEVEL": "warning"})
    server.launch()
    try:
        code = server.process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        raise AssertionError("serve with MIGRATE_ON_START=false on an empty database did not exit")
    assert code != 0, "serve with MIGRATE_ON_START=false on an empty database exited 0"
    missing = applied[-1]
    psql(url, f"DELETE FROM schema_migrations WHERE id = '{missing}'")
    server = Server("behind", {"DATABASE_URL": url, "MIGRATE_ON_START": "false", "LOG_LEVEL": "warning", "BCRYPT_COST": "4"}).start()
    answer = server.call("GET", "/api/health/ready")
    equal(answer.status, 503, "readiness with a migration missing")
    equal(answer.json["pendingMigrations"], [missing], "pendingMigrations")
    equal(server.call("GET", "/api/health").status, 200, "liveness with a migration missing")
    psql(url, f"INSERT INTO schema_migrations (id, applied_at) VALUES ('{missing}', 0)")
    equal(server.call("GET", "/api/health/ready").status, 200, "readiness once it is recorded")
    server.stop()
    return f"{len(applied)} migrations; without them serve exits {code}"


# ---------------------------------------------------------------- checks: backups

def check_sqlite_backup():
    """SQLite: `ecosire backup --output FILE` (as the service user) while 2 threads post contacts, then the server stopped, `ecosire restore --input FILE`, started: every contact acknowledged before the backup started is there and none sent after it finished"""
    server = Server("sqlite", {"BCRYPT_COST": "4", "LOG_LEVEL": "warning", "RATE_LIMIT_DEFAULT": "1000000", "QUOTA_FREE": "0"}).start()
    ctx["sqlite"] = server
    owner = register(server.base, "owner@sqlite.example.com")
    backups = os.path.join(ctx["work"], "backups")
    shutil.rmtree(backups, ignore_errors=True)
    os.makedirs(backups, mode=0o700)
    if ctx["root"]:
        os.chown(backups, SERVICE_UID, SERVICE_UID)
    output = os.path.join(backups, "ecosire.sqlite")
    env = {"DATA_DIR": server.data}
    writer = Writer(server.base, owner["token"], "SQLite")
    try:
        time.sleep(1.5)
        started = time.monotonic()
        backup = cli(["backup", "--output", output], env)
        finished = time.monotonic()
        assert backup.returncode == 0, f"backup exited {backup.returncode}: {backup.stderr.strip()}"
        match = re.fullmatch(r"Backed up (\d+) migration\(s\) of schema and all data to (.+) \((\d+) bytes\)\.", backup.stdout.strip())
        assert match and match.group(2) == output, f"backup printed {backup.stdout!r}"
        equal(oct(os.stat(output).st_mode & 0o777), oct(0o600), "mode of the backup")
        again = cli(["backup", "--output", output], env)
        assert again.returncode != 0 and "exists; back up to a new file" in again.stderr, f"a second backup to the same file: {again.stderr!r}"
        time.sleep(1)
        running = cli(["restore", "--input", output], env)
        assert running.returncode != 0 and "(its process lease is current); stop it first" in running.stderr, \
            f"restore while the server runs: exit {running.returncode}, {running.stderr.strip()!r}"
    finally:
        writer.stop()
    equal(server.stop(), 0, "exit status after SIGTERM")
    restore = cli(["restore", "--input", output], env)
    assert restore.returncode == 0, f"restore exited {restore.returncode}: {restore.stderr.strip()}"
    lines = restore.stdout.strip().splitlines()
    equal(lines[0], f"Restored {os.path.join(server.data, 'ecosire.sqlite')} from {output} ({match.group(1)} migration(s)).", "restore output")
    equal(lines[1:], ["The replaced files were kept beside it as *.before-restore-*."], "restore output")
    assert glob.glob(os.path.join(server.data, "ecosire.sqlite.before-restore-*")), "no ecosire.sqlite.before-restore-* file"
    if ctx["root"]:
        equal(os.stat(os.path.join(server.data, "ecosire.sqlite")).st_uid, SERVICE_UID, "owner of the restored database")
    server.start()
    note = round_trip_property(writer.records, started, finished, all_contacts(server.base, owner["token"]), server.base, owner["token"])
    ctx["sqlite_backup"], ctx["sqlite_owner"] = output, owner
    return f"backup took {finished - started:.2f} s; {note}"


def check_sqlite_newer_backup():
    """SQLite: a backup whose schema has a migration this binary does not know (a newer version's) is refused and changes nothing"""
    server, owner = ctx["sqlite"], ctx["sqlite_owner"]
    newer = ctx["sqlite_backup"] + ".newer"
    shutil.copy(ctx["sqlite_backup"], newer)
    database = sqlite3.connect(newer)
    database.execute("INSERT INTO schema_migrations (id, applied_at) VALUES ('zz-later/001-from-a-newer-version', 0)")
    database.commit()
    database.close()
    os.chmod(newer, 0o644)
    count = len(all_contacts(server.base, owner["token"]))
    server.stop()
    refused = cli(["restore", "--input", newer], {"DATA_DIR": server.data})
    assert refused.returncode != 0 and "The backup was made by a newer version (migrations zz-later/001-from-a-newer-version)" in refused.stderr, \
        f"restore of a newer version's backup: exit {refused.returncode}, {refused.stderr.strip()!r}"
    server.start()
    equal(len(all_contacts(server.base, owner["token"])), count, "contacts after the refused restore")
    server.stop()


def check_postgres_backup():
    """PostgreSQL: `ecosire backup` names pg_dump/pg_restore (as the guide does); pg_dump run as printed while 2 threads post contacts, pg_restore as printed into a fresh database and then over the original (instances stopped): every contact acknowledged before pg_dump started is there, none sent after it finished"""
    url = fresh_database("pg_source")
    env = {"DATABASE_URL": url, "BCRYPT_COST": "4", "LOG_LEVEL": "warning", "RATE_LIMIT_DEFAULT": "1000000", "QUOTA_FREE": "0"}
    env.update({k: v for k, v in ctx["secrets"].items()})
    printed = cli(["backup", "--output", os.path.join(ctx["work"], "unused.dump")], env)
    assert printed.returncode != 0, "ecosire backup with a PostgreSQL DATABASE_URL exited 0"
    match = re.search(r"back it up with (pg_dump .+?) and restore with (pg_restore .+?) \(docs/deployment\.md\)", printed.stderr)
    assert match, f"ecosire backup printed {printed.stderr.strip()!r}"
    dump_command, restore_command = match.groups()
    text = guide()
    for command in (dump_command, restore_command):
        assert command in text, f"the guide does not show {command!r} as the binary prints it"
    server = Server("pg-source", env).start()
    owner = register(server.base, "owner@pg.example.com")
    dump = os.path.join(ctx["work"], "ecosire.dump")
    if os.path.exists(dump):
        os.remove(dump)
    tools = dict(base_environment(), PATH=ctx["pg_bin"] + ":" + os.environ.get("PATH", "/usr/bin:/bin"))
    writer = Writer(server.base, owner["token"], "PostgreSQL")
    try:
        time.sleep(1.5)
        started = time.monotonic()
        result = subprocess.run(["sh", "-c", dump_command.replace("FILE", dump)], env=dict(tools, DATABASE_URL=url),
                                capture_output=True, text=True, timeout=120)
        finished = time.monotonic()
        assert result.returncode == 0, f"pg_dump exited {result.returncode}: {result.stderr.strip()}"
        time.sleep(1)
    finally:
        writer.stop()
    target = fresh_database("pg_restored")
    result = subprocess.run(["sh", "-c", restore_command.replace("FILE", dump)], env=dict(tools, DATABASE_URL=target),
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, f"pg_restore into a fresh database exited {result.returncode}: {result.stderr.strip()[-600:]}"
    restored = Server("pg-restored", dict(env, DATABASE_URL=target)).start()
    ids = all_contacts(restored.base, owner["token"])
    note = round_trip_property(writer.records, started, finished, ids, restored.base, owner["token"])
    restored.stop()
    equal(server.stop(), 0, "exit status after SIGTERM")
    result = subprocess.run(["sh", "-c", restore_command.replace("FILE", dump)], env=dict(tools, DATABASE_URL=url),
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, f"pg_restore over the original database exited {result.returncode}: {result.stderr.strip()[-600:]}"
    server.start()
    equal(all_contacts(server.base, owner["token"]) == ids, True, "contacts of the original database after pg_restore over it are the dump's")
    equal(expect(server.call("GET", "/api/health/ready"), 200)["pendingMigrations"], [], "pending migrations")
    server.stop()
    return f"pg_dump took {finished - started:.2f} s; {note}"


# ---------------------------------------------------------------- checks: Prometheus

def render_prometheus():
    first, second = ctx["pair"]
    return render_deploy_file("prometheus.yml", [
        ("- 10.0.0.11:8080", f"- 127.0.0.1:{first.port}"),
        ("- 10.0.0.12:8080", f"- 127.0.0.1:{second.port}"),
        ("  - /etc/prometheus/ecosire-alerts.yml", "  - " + os.path.join(DEPLOY, "alerts.yml")),
        ("scrape_interval: 15s", "scrape_interval: 1s"),  # faster than in production, so rates have data within seconds
        ("evaluation_interval: 15s", "evaluation_interval: 1s"),
    ])


def prometheus_api(path):
    with urllib.request.urlopen(f"http://127.0.0.1:{ctx['prometheus_port']}{path}", timeout=10) as response:
        return json.loads(response.read())


def check_prometheus_start():
    """deploy/prometheus.yml (targets, rule file path and intervals replaced) and deploy/alerts.yml pass promtool, and Debian's Prometheus scrapes both instances directly (up == 1)"""
    assert os.path.exists("/usr/bin/prometheus"), "Debian's prometheus is not installed (apt-get install prometheus)"
    directory = os.path.join(ctx["work"], "prometheus")
    shutil.rmtree(directory, ignore_errors=True)
    os.makedirs(directory)
    config = os.path.join(directory, "prometheus.yml")
    with open(config, "w") as f:
        f.write(render_prometheus())
    run(["promtool", "check", "config", config])
    run(["promtool", "check", "rules", os.path.join(DEPLOY, "alerts.yml")])
    ctx["prometheus_port"] = free_port()
    log = open(os.path.join(directory, "prometheus.log"), "wb")
    process = subprocess.Popen(["prometheus", f"--config.file={config}", f"--storage.tsdb.path={directory}/data",
                                f"--web.listen-address=127.0.0.1:{ctx['prometheus_port']}", "--log.level=warn"],
                               stdout=log, stderr=subprocess.STDOUT)
    PROCESSES.append(process)

    def targets_up():
        try:
            active = prometheus_api("/api/v1/targets")["data"]["activeTargets"]
        except OSError:
            return False
        return len(active) == 2 and all(target["health"] == "up" for target in active)
    poll(targets_up, 20, "both targets up in Prometheus", interval=0.3)


def guide_queries():
    """The PromQL lines of the guide's ```promql blocks."""
    queries = []
    for block in re.findall(r"```promql\n(.*?)```", guide(), re.S):
        queries += [line.strip() for line in block.splitlines() if line.strip() and not line.strip().startswith("#")]
    return queries


METRIC_NAME = r"\b((?:ecosire|hb|http_server)_[a-z0-9_]+)\b"


def check_metric_names():
    """GET /metrics of both instances after the traffic above (429s, webhook deliveries, email) parses with prometheus_client and has every metric named in docs/deployment.md and deploy/alerts.yml"""
    from prometheus_client.parser import text_string_to_metric_families
    first, second = ctx["pair"]
    expect(tls("POST", "/api/contacts", {"name": "Webhook trigger"}, token=ctx["owner"]["token"]), 201)
    poll(lambda: ctx["receiver_class"].count > 0, 20, "a webhook delivery")
    with open(os.path.join(DEPLOY, "alerts.yml")) as f:
        alerts = f.read()
    named = set(re.findall(METRIC_NAME, guide())) | set(re.findall(METRIC_NAME, alerts))

    def missing():
        texts[:] = [first.metrics(), second.metrics()]
        exposed = {name for text in texts for name, _, _ in samples(text)}
        exposed |= {re.sub(r"_(bucket|sum|count)$", "", name) for name in exposed}
        return sorted(named - exposed)
    texts = []
    try:
        poll(lambda: not missing(), 10, "every named metric", interval=0.5)  # outcomes are counted once recorded
    except AssertionError:
        raise AssertionError(f"named but not in /metrics: {missing()}")
    for server, text in zip((first, second), texts):
        families = [family.name for family in text_string_to_metric_families(text)]
        assert len(families) >= 10, f"prometheus_client found only {families} in {server.name}'s /metrics"
    return f"{len(named)} names, {len(families)} families"


def check_prometheus_queries():
    """Prometheus: every rule of deploy/alerts.yml evaluates (health ok), and every PromQL query of the guide returns data"""
    # The instances restarted above, and counters with labels come back with their first event:
    # one of each (a 429, an email, a webhook delivery), then a few scrapes.
    token, email = ctx["owner"]["token"], f"again-{uuid.uuid4().hex[:8]}@deploy.example.com"
    statuses = [tls("POST", "/api/auth/login", {"email": email, "password": "wrong-password"}, source="127.0.0.4").status
                for _ in range(8)]
    assert 429 in statuses, f"no 429 in {statuses}"
    mails, hooks = len(ctx["mailbox"].messages), ctx["receiver_class"].count
    expect(tls("POST", "/api/support", {"name": "Grace Hopper", "email": "grace@deploy.example.com", "subject": "Metrics",
                                        "message": "Once more."}, source="127.0.0.4"), 201)
    expect(tls("POST", "/api/contacts", {"name": "Metrics"}, token=token), 201)
    poll(lambda: len(ctx["mailbox"].messages) > mails and ctx["receiver_class"].count > hooks, 20, "the email and the delivery")
    time.sleep(3)

    def rules():
        groups = prometheus_api("/api/v1/rules")["data"]["groups"]
        found = [rule for group in groups for rule in group["rules"]]
        return found if found and all(rule["health"] == "ok" for rule in found) else None
    try:
        found = poll(rules, 15, "every rule evaluated", interval=0.5)
    except AssertionError:
        groups = prometheus_api("/api/v1/rules")["data"]["groups"]
        raise AssertionError("rules not healthy: " + "; ".join(f"{r['name']}: {r['health']} {r.get('lastError', '')}"
                                                                for g in groups for r in g["rules"] if r["health"] != "ok"))
    queries = guide_queries()
    assert len(queries) >= 10, f"only {len(queries)} PromQL queries in the guide"
    empty = []
    for query in queries:
        answer = prometheus_api("/api/v1/query?" + urllib.parse.urlencode({"query": query}))
        equal(answer["status"], "success", f"status of {query}")
        if not answer["data"]["result"]:
            empty.append(query)
    assert not empty, f"no data for: {empty}"
    firing = sorted({rule["name"] for rule in found if rule.get("state") == "firing"})
    return f"{len(found)} rules, {len(queries)} queries" + (f"; firing now: {', '.join(firing)}" if firing else "")


# ---------------------------------------------------------------- main

def main():
    if len(sys.argv) > 2 and sys.argv[1] == "--sandbox":
        assert sys.argv[3] == "--"
        run_sandbox(json.loads(sys.argv[2]), sys.argv[4:])
        return
    import argparse
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("binary")
    parser.add_argument("workdir")
    parser.add_argument("--postgres", metavar="URL", help="postgres://… of a cluster where databases may be created")
    args = parser.parse_args()
    ctx.update(binary=os.path.abspath(args.binary), work=os.path.abspath(args.workdir), postgres=args.postgres, root=os.geteuid() == 0)
    os.makedirs(ctx["work"], exist_ok=True)
    os.chmod(ctx["work"], 0o755)
    # Installed as the guide installs it (mode 0755 where the service user can reach it): the build
    # folder may lie under root's home, which `nobody` cannot enter.
    installed = os.path.join(ctx["work"], "bin", "ecosire")
    os.makedirs(os.path.dirname(installed), exist_ok=True)
    os.chmod(os.path.dirname(installed), 0o755)
    shutil.copyfile(ctx["binary"], installed)
    os.chmod(installed, 0o755)
    ctx["binary"] = installed
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    started = time.monotonic()
    ensure_tools()
    ctx["staging"] = next((d for d in ("/srv", "/media", "/mnt") if os.path.isdir(d)), "/srv")
    ctx["sandboxing"] = ctx["root"]
    try:
        ctx["sandbox"] = sandbox_spec()
    except (AssertionError, AttributeError, KeyError, ValueError, subprocess.SubprocessError) as error:
        ctx["sandbox_error"], ctx["sandboxing"] = str(error), False
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: [int(x) for x in re.findall(r"\d+", p)])
    ctx["pg_bin"] = versions[-1] if versions else "/usr/bin"
    start_receiver()
    start_smtp()
    checks = [check_guide_commands, check_binary, check_env_file, check_secrets_fresh, check_unit_verify, check_unit_security, check_sandbox,
              check_env_server, check_json_logs, check_secrets_carry_over]
    if args.postgres:
        checks += [check_pair_start, check_nginx_config, check_prometheus_start, check_redirect, check_tls_cookies_hsts,
                   check_spread, check_metrics_hidden, check_client_ip, check_shared_limit, check_product_files, check_email,
                   check_metric_names, check_kill9, check_rolling_restart, check_migrate, check_sqlite_backup,
                   check_sqlite_newer_backup, check_postgres_backup, check_prometheus_queries]
    else:
        checks += [check_sqlite_backup, check_sqlite_newer_backup]
        print("    (no --postgres: nginx, two instances, pg_dump and Prometheus are not checked)", flush=True)
    failed = 0
    try:
        failed = run_checks_showing_logs(checks, SERVERS)
    finally:
        for server in SERVERS:
            try:
                server.stop(timeout=10)
            except AssertionError:
                pass
        for process in PROCESSES:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()
        ctx["receiver"].shutdown()
        ctx["smtp"].stop()
        for database in ctx.get("databases", []):
            try:
                psql(ctx["postgres"], f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
            except AssertionError:
                pass
    print(f"    deployment checks took {time.monotonic() - started:.0f} s", flush=True)
    print(f"{len(checks) - failed} passed, {failed} failed", flush=True)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
