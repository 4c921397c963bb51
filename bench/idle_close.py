#!/usr/bin/env python3
"""Measure how real backs close an idle keep-alive connection.

For each back it starts the server on a free 127.0.0.1 port with its own config, pid and log files in a
temporary directory, then, SAMPLES times, on a fresh raw socket: sends one keep-alive GET, reads the whole
response, and times from the response's last byte until the server's FIN (EOF) or RST. After the close it
writes one byte and says whether that byte was answered by an RST (what a front's reused request meets after
the back has closed). Every server is stopped at the end, on error and on Ctrl-C.

    bench/idle_close.py [--samples 20] [BACK ...]      # backs: apache nginx node gunicorn uvicorn tomcat

Prints one line per back: setting, close median / p95 after the last response byte, FIN or RST, and how often
the byte written after the close got an RST. Loopback only; nothing is asserted.
"""

import argparse
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SERVERS = os.path.join(ROOT, "servers")
REQUEST = b"GET /index.html HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: keep-alive\r\n\r\n"
CLOSE_WAIT_LIMIT = 30.0


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_listening(port, process, limit):
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"exited with status {process.returncode} before listening on {port}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"not listening on {port} after {limit} s")


def apache(tmp, port):
    modules = "/usr/lib/apache2/modules"
    with open(os.path.join(tmp, "index.html"), "w") as page:
        page.write("ok from apache\n")
    conf = os.path.join(tmp, "httpd.conf")
    user = "User www-data\nGroup www-data\n" if os.geteuid() == 0 else ""
    with open(conf, "w") as out:
        out.write(
            f"""ServerRoot {tmp}
DefaultRuntimeDir {tmp}
PidFile {tmp}/httpd.pid
ErrorLog {tmp}/error.log
Mutex file:{tmp}
LoadModule mpm_event_module {modules}/mod_mpm_event.so
LoadModule authz_core_module {modules}/mod_authz_core.so
{user}ServerName 127.0.0.1
Listen 127.0.0.1:{port}
DocumentRoot {tmp}
<Directory {tmp}>
    Require all granted
</Directory>
KeepAlive On
KeepAliveTimeout 1
MaxKeepAliveRequests 100
"""
        )
    os.chmod(tmp, 0o755)
    return ["apache2", "-f", conf, "-DFOREGROUND"], "KeepAliveTimeout 1 (mpm_event)", {}


def nginx(tmp, port):
    conf = os.path.join(tmp, "nginx.conf")
    with open(conf, "w") as out:
        out.write(
            f"""daemon off;
master_process on;
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    keepalive_timeout 1s;
    server {{
        listen 127.0.0.1:{port};
        location / {{ return 200 "ok from nginx\\n"; }}
    }}
}}
"""
        )
    return ["nginx", "-p", tmp, "-c", conf], "keepalive_timeout 1s", {}


def node(tmp, port):
    script = os.path.join(SERVERS, "node-back.js")
    return ["node", script, "--port", str(port), "--keep-alive-timeout", "1000"], "keepAliveTimeout 1000", {}


def gunicorn(tmp, port):
    return (
        ["gunicorn", "--chdir", SERVERS, "-k", "gthread", "--threads", "4", "--keep-alive", "1",
         "-b", f"127.0.0.1:{port}", "--pid", os.path.join(tmp, "gunicorn.pid"),
         "--error-logfile", os.path.join(tmp, "error.log"), "wsgi_app:app"],
        "gthread --keep-alive 1",
        {},
    )


def uvicorn(tmp, port):
    return (
        ["uvicorn", "--app-dir", SERVERS, "--host", "127.0.0.1", "--port", str(port),
         "--timeout-keep-alive", "1", "--log-level", "warning", "asgi_app:app"],
        "--timeout-keep-alive 1",
        {},
    )


def tomcat(tmp, port):
    home = "/usr/share/tomcat10"
    conf = os.path.join(tmp, "conf")
    os.makedirs(conf)
    for name in ("web.xml", "logging.properties", "catalina.properties", "context.xml"):
        shutil.copy(os.path.join(home, "etc", name), conf)
    for name in ("logs", "temp", "work", "webapps/ROOT"):
        os.makedirs(os.path.join(tmp, name))
    with open(os.path.join(tmp, "webapps", "ROOT", "index.html"), "w") as page:
        page.write("ok from tomcat\n")
    with open(os.path.join(conf, "server.xml"), "w") as out:
        out.write(
            f"""<?xml version="1.0" encoding="UTF-8"?>
<Server port="-1" shutdown="SHUTDOWN">
  <Service name="Catalina">
    <Connector port="{port}" address="127.0.0.1" protocol="HTTP/1.1"
               connectionTimeout="20000" keepAliveTimeout="1000" maxKeepAliveRequests="100" />
    <Engine name="Catalina" defaultHost="localhost">
      <Host name="localhost" appBase="webapps" unpackWARs="false" autoDeploy="false" />
    </Engine>
  </Service>
</Server>
"""
        )
    env = {"CATALINA_HOME": home, "CATALINA_BASE": tmp, "CATALINA_PID": os.path.join(tmp, "catalina.pid"),
           "CATALINA_TMPDIR": os.path.join(tmp, "temp")}
    return [os.path.join(home, "bin", "catalina.sh"), "run"], "keepAliveTimeout=1000", env


BACKS = {"apache": apache, "nginx": nginx, "node": node, "gunicorn": gunicorn, "uvicorn": uvicorn,
         "tomcat": tomcat}


def read_response(sock):
    """Reads one response (Content-Length or chunked); returns when its last byte has arrived."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise RuntimeError("closed before the response head")
        data += chunk
    head, rest = data.split(b"\r\n\r\n", 1)
    headers = {}
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        headers[name.strip().lower()] = value.strip()
    if b"content-length" in headers:
        length = int(headers[b"content-length"])
        while len(rest) < length:
            chunk = sock.recv(65536)
            if not chunk:
                raise RuntimeError("closed inside the body")
            rest += chunk
    elif headers.get(b"transfer-encoding", b"").lower() == b"chunked":
        while not rest.endswith(b"0\r\n\r\n"):
            chunk = sock.recv(65536)
            if not chunk:
                raise RuntimeError("closed inside the chunked body")
            rest += chunk
    return head.split(b"\r\n")[0].decode(errors="replace")


def sample(port):
    """One connection: (seconds from the response's last byte to the close, 'FIN'|'RST', byte after -> RST?)."""
    sock = socket.create_connection(("127.0.0.1", port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.sendall(REQUEST)
        status = read_response(sock)
        if " 200 " not in status + " ":
            raise RuntimeError(f"answered {status!r}")
        done = time.monotonic()
        sock.settimeout(CLOSE_WAIT_LIMIT)
        try:
            extra = sock.recv(1)
            kind = "FIN" if not extra else "data"
        except ConnectionResetError:
            kind = "RST"
        except socket.timeout:
            kind = "none"
        closed = time.monotonic() - done
        late_rst = False
        if kind == "FIN":
            # EOF is sticky, so recv cannot show the RST: write, give the RST a moment to come back over
            # loopback, and read the socket's pending error (ECONNRESET, or EPIPE in CLOSE_WAIT).
            try:
                sock.send(b"G")
                time.sleep(0.1)
                late_rst = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) != 0
                if not late_rst:
                    sock.send(b"E")
            except (ConnectionResetError, BrokenPipeError):
                late_rst = True
        return closed, kind, late_rst
    finally:
        sock.close()


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def measure(name, samples):
    tmp = tempfile.mkdtemp(prefix=f"idle-close-{name}-")
    port = free_port()
    argv, setting, extra_env = BACKS[name](tmp, port)
    if shutil.which(argv[0]) is None and not os.path.exists(argv[0]):
        return f"{name}: {argv[0]} is not installed"
    log = open(os.path.join(tmp, "stdout.log"), "w")
    env = dict(os.environ, **extra_env)
    process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    try:
        started = time.monotonic()
        wait_listening(port, process, 60.0)
        startup = time.monotonic() - started
        sample(port)  # warm-up: first request loads caches, JIT
        results = [sample(port) for _ in range(samples)]
    finally:
        try:
            os.killpg(process.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        log.close()
        shutil.rmtree(tmp, ignore_errors=True)
    times = [seconds * 1000 for seconds, _, _ in results]
    kinds = sorted({kind for _, kind, _ in results})
    rst_after = sum(1 for _, _, late in results if late)
    return (f"{name:9} | {setting:32} | median {statistics.median(times):8.1f} ms | p95 {percentile(times, 0.95):8.1f} ms"
            f" | {'/'.join(kinds):4} | byte after close got RST {rst_after}/{len(results)} | started in {startup:.1f} s")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=20)
    parser.add_argument("backs", nargs="*", default=list(BACKS))
    args = parser.parse_args()
    unknown = [name for name in args.backs if name not in BACKS]
    if unknown:
        parser.error(f"unknown back {', '.join(unknown)}; known: {', '.join(BACKS)}")
    for name in args.backs:
        try:
            print(measure(name, args.samples), flush=True)
        except (OSError, RuntimeError) as error:
            print(f"{name}: failed: {error}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
