#!/usr/bin/env python3
"""Measure how long real fronts keep an idle upstream connection with their default timeouts.

For each front (nginx 1.22 with `upstream { keepalive 4; }`, HAProxy 2.6 with `http-reuse always`, Caddy 2.6
`reverse_proxy`) it starts a raw back on a free 127.0.0.1 port that answers keep-alive and never closes, starts
the front on another free port with its own config, pid and log files in a temporary directory, sends one
request through it, and times from the back's response until the front closes its pooled connection (FIN or
RST). Every server is stopped at the end, on error and on Ctrl-C. Fronts run side by side.

    bench/front_idle.py [--limit 200] [FRONT ...]      # fronts: nginx haproxy caddy

Prints one line per front; nothing is asserted.
"""

import argparse
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time

RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: keep-alive\r\n\r\nok\n"


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def serve_connection(conn, results, name):
    data, last = b"", None
    while True:
        try:
            chunk = conn.recv(65536)
        except OSError:
            kind = "RST"
            break
        if not chunk:
            kind = "FIN"
            break
        data += chunk
        while b"\r\n\r\n" in data:
            _, data = data.split(b"\r\n\r\n", 1)
            conn.sendall(RESPONSE)
            last = time.monotonic()
    if last is not None:
        results[name] = (kind, time.monotonic() - last)
    conn.close()


def run_back(listener, results, name):
    while True:
        try:
            conn, _ = listener.accept()
        except OSError:
            return
        threading.Thread(target=serve_connection, args=(conn, results, name), daemon=True).start()


def nginx(tmp, port, upstream):
    conf = os.path.join(tmp, "nginx.conf")
    temp_paths = " ".join(f"{kind}_temp_path {tmp}/{kind};" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    with open(conf, "w") as out:
        out.write(
            f"""daemon off;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 64; }}
http {{
    access_log off;
    {temp_paths}
    upstream app {{ server 127.0.0.1:{upstream}; keepalive 4; }}
    server {{
        listen 127.0.0.1:{port};
        location / {{ proxy_pass http://app; proxy_http_version 1.1; proxy_set_header Connection ""; }}
    }}
}}
"""
        )
    return ["nginx", "-p", tmp, "-c", conf], "upstream keepalive 4 (keepalive_timeout default)"


def haproxy(tmp, port, upstream):
    conf = os.path.join(tmp, "haproxy.cfg")
    with open(conf, "w") as out:
        out.write(
            f"""global
    pidfile {tmp}/haproxy.pid
defaults
    mode http
    timeout connect 5s
    timeout client 300s
    timeout server 300s
frontend web
    bind 127.0.0.1:{port}
    default_backend app
backend app
    http-reuse always
    server back 127.0.0.1:{upstream}
"""
        )
    return ["haproxy", "-f", conf, "-db"], "http-reuse always (pool-purge-delay default)"


def caddy(tmp, port, upstream):
    conf = os.path.join(tmp, "Caddyfile")
    with open(conf, "w") as out:
        out.write(
            f"""{{
    admin off
    auto_https off
    storage file_system {tmp}/data
}}
http://127.0.0.1:{port} {{
    reverse_proxy 127.0.0.1:{upstream}
}}
"""
        )
    return ["caddy", "run", "--config", conf, "--adapter", "caddyfile"], "reverse_proxy (keepalive default)"


FRONTS = {"nginx": nginx, "haproxy": haproxy, "caddy": caddy}


def wait_listening(port, process, limit=10.0):
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"exited with status {process.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"not listening on {port} after {limit} s")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=float, default=200.0, help="seconds to wait for the closes")
    parser.add_argument("fronts", nargs="*", default=list(FRONTS))
    args = parser.parse_args()
    unknown = [name for name in args.fronts if name not in FRONTS]
    if unknown:
        parser.error(f"unknown front {', '.join(unknown)}; known: {', '.join(FRONTS)}")
    results, started, settings = {}, [], {}
    try:
        for name in args.fronts:
            if shutil.which(name) is None:
                print(f"{name}: not installed")
                continue
            tmp = tempfile.mkdtemp(prefix=f"front-idle-{name}-")
            listener = socket.socket()
            listener.bind(("127.0.0.1", 0))
            listener.listen(16)
            threading.Thread(target=run_back, args=(listener, results, name), daemon=True).start()
            port = free_port()
            argv, settings[name] = FRONTS[name](tmp, port, listener.getsockname()[1])
            env = dict(os.environ, HOME=tmp, XDG_DATA_HOME=tmp, XDG_CONFIG_HOME=tmp)
            log = open(os.path.join(tmp, "stdout.log"), "w")
            process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
            started.append((process, tmp, listener, log))
            wait_listening(port, process)
            with socket.create_connection(("127.0.0.1", port)) as client:
                client.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
                while client.recv(65536):
                    pass
        deadline = time.monotonic() + args.limit
        while time.monotonic() < deadline and len(results) < len(started):
            time.sleep(0.2)
        for name in settings:
            if name in results:
                kind, seconds = results[name]
                print(f"{name:8} | {settings[name]:48} | closed its idle upstream connection {seconds:7.2f} s after the response | {kind}")
            else:
                print(f"{name:8} | {settings[name]:48} | idle upstream connection still open after {args.limit:.0f} s")
    finally:
        for process, tmp, listener, log in started:
            try:
                os.killpg(process.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
            listener.close()
            log.close()
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
