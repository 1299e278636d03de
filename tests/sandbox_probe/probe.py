"""Runs INSIDE a sandbox (``/usr/bin/python3 -I -S /var/task/probe.py CMD ...``) and
prints one JSON object on stdout describing what it observes. Stdlib only; no site."""
import errno
import json
import os
import socket
import sys
import time


def status_fields():
    out = {}
    with open("/proc/self/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            out[k] = v.strip()
    return out


def walk(root="/", depth=4, skip=("/proc", "/usr", "/etc/ssl/certs", "/var/task", "/tmp", "/dev/pts")):
    seen = []

    def rec(path, d):
        try:
            names = sorted(os.listdir(path))
        except OSError:
            return
        for n in names:
            p = os.path.join(path, n)
            seen.append(p)
            if p in skip or d <= 1:
                continue
            if os.path.isdir(p) and not os.path.islink(p):
                rec(p, d - 1)

    rec(root, depth)
    return seen


def report():
    import resource

    st = status_fields()
    env = {}
    with open("/proc/self/environ", "rb") as f:
        for item in f.read().split(b"\0"):
            if item:
                k, _, v = item.decode().partition("=")
                env[k] = v
    try:
        with open("/var/task/written-by-probe", "w") as f:
            f.write("x")
        task_write = "ok"
    except OSError as e:
        task_write = errno.errorcode.get(e.errno, str(e.errno))
    try:
        with open("/etc/probe", "w") as f:
            f.write("x")
        etc_write = "ok"
    except OSError as e:
        etc_write = errno.errorcode.get(e.errno, str(e.errno))
    import pwd

    return {
        "uid": os.getuid(),
        "euid": os.geteuid(),
        "gid": os.getgid(),
        "groups": os.getgroups(),
        "user": pwd.getpwuid(os.getuid()).pw_name,
        "cap": {k: st.get(k) for k in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb")},
        "no_new_privs": st.get("NoNewPrivs"),
        "rlimit_core": resource.getrlimit(resource.RLIMIT_CORE),
        "rlimit_nofile": resource.getrlimit(resource.RLIMIT_NOFILE),
        "pid": os.getpid(),
        "pids": sorted(int(p) for p in os.listdir("/proc") if p.isdigit()),
        "env": env,
        "cwd": os.getcwd(),
        "hostname": socket.gethostname(),
        "walk": walk(),
        "task_write": task_write,
        "etc_write": etc_write,
        "oom_score_adj": open("/proc/self/oom_score_adj").read().strip(),
        "fds": sorted(int(x) for x in os.listdir("/proc/self/fd")),
        "shm": os.path.isdir("/dev/shm"),
        "devnull": open("/dev/null", "rb").read() == b"",
    }


def connect(port):
    s = socket.socket()
    s.settimeout(2)
    try:
        s.connect(("127.0.0.1", int(port)))
        return {"connect": "ok"}
    except OSError as e:
        return {"connect": errno.errorcode.get(e.errno, str(e))}


def fill_tmp():
    written = 0
    chunk = b"x" * (1 << 20)
    try:
        with open("/tmp/fill", "wb") as f:
            while True:
                f.write(chunk)
                f.flush()
                written += len(chunk)
    except OSError as e:
        return {"written": written, "error": errno.errorcode.get(e.errno, str(e.errno))}


def hog(mb):
    blocks = []
    for _ in range(int(mb)):
        blocks.append(bytearray(1 << 20))  # zero-filled: really committed
        for i in range(0, 1 << 20, 4096):
            blocks[-1][i] = 1
    return {"hog": "survived", "mb": len(blocks)}


def forkbomb():
    n = 0
    err = None
    children = []
    while n < 5000:
        try:
            pid = os.fork()
        except OSError as e:
            err = errno.errorcode.get(e.errno, str(e.errno))
            break
        if pid == 0:
            time.sleep(60)
            os._exit(0)
        children.append(pid)
        n += 1
    pids_max = None
    return {"forked": n, "error": err, "pids_max": pids_max}


def spin(seconds):
    end = time.monotonic() + float(seconds)
    t0 = time.process_time()
    while time.monotonic() < end:
        pass
    return {"cpu_s": time.process_time() - t0, "wall_s": float(seconds)}


def http(path):
    last = None
    for _ in range(100):
        s = socket.socket()
        s.settimeout(2)
        try:
            s.connect(("127.0.0.1", 9001))
            s.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
            data = b""
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
            head, _, body = data.partition(b"\r\n\r\n")
            return {"status": head.split(b"\r\n")[0].decode(), "body": body.decode()}
        except OSError as e:
            last = errno.errorcode.get(e.errno, str(e))
            time.sleep(0.05)
        finally:
            s.close()
    return {"error": last}


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    fn = {"report": report, "connect": connect, "fill_tmp": fill_tmp, "hog": hog, "forkbomb": forkbomb, "spin": spin, "http": http}[cmd]
    out = fn(*args)
    sys.stdout.write("PROBE " + json.dumps(out) + "\n")
    sys.stdout.flush()
    if cmd == "forkbomb":
        time.sleep(float(os.environ.get("HOLD", "0")))


main()
