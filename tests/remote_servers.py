"""Loopback servers for the remote-store tests: moto's S3 API server and a static HTTP
server that answers Range requests. Both bind 127.0.0.1 on a port the OS picks and are
stopped by the fixtures that start them; nothing here reaches beyond the loopback
interface."""

from __future__ import annotations

import http.server
import os
import re
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from typing import Any

# A forgotten endpoint or a credential probe must fail locally, never reach out.
os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")
os.environ["NO_PROXY"] = "127.0.0.1,localhost"

KEY = "testing"
SECRET = "testing"
REGION = "us-east-1"


@dataclass
class S3Server:
    """A running moto server: its endpoint and helpers to make clients against it."""

    endpoint: str
    _server: object

    def options(self, **extra: object) -> dict[str, object]:
        """``storage_options`` for z5py."""
        return {
            "endpoint": self.endpoint,
            "access_key_id": KEY,
            "secret_access_key": SECRET,
            "region": REGION,
            **extra,
        }

    def boto(self):
        """A boto3 S3 client."""
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=KEY,
            aws_secret_access_key=SECRET,
            region_name=REGION,
        )

    def create_bucket(self, name: str) -> str:
        """Create a bucket and return its name."""
        self.boto().create_bucket(Bucket=name)
        return name

    def zarr_store(self, bucket: str, prefix: str, read_only: bool = False):
        """A zarr-python store on ``bucket/prefix``: its ``ObjectStore`` over obstore's
        ``S3Store`` (obstore is the Python binding of the Rust object_store crate; unlike
        s3fs it pins no botocore, so it installs beside moto without resolver trouble)."""
        import zarr.storage
        from obstore.store import S3Store

        s3 = S3Store(
            bucket,
            prefix=prefix,
            endpoint=self.endpoint,
            access_key_id=KEY,
            secret_access_key=SECRET,
            region=REGION,
            client_options={"allow_http": True},
        )
        return zarr.storage.ObjectStore(s3, read_only=read_only)

    def tensorstore_kvstore(self, bucket: str, path: str) -> dict[str, object]:
        """A tensorstore ``s3`` kvstore spec (credentials from the AWS_* variables)."""
        return {
            "driver": "s3",
            "bucket": bucket,
            "path": path.rstrip("/") + "/",
            "endpoint": self.endpoint,
            "aws_region": REGION,
            "aws_credentials": {"type": "environment"},
        }

    def reset(self) -> None:
        """Delete every bucket (moto's reset endpoint)."""
        req = urllib.request.Request(f"{self.endpoint}/moto-api/reset", method="POST")
        urllib.request.urlopen(req).read()


@contextmanager
def s3_server() -> Iterator[S3Server]:
    """Start moto's threaded server on 127.0.0.1 (port chosen by the OS)."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    # Clients keep idle connections open for a while (reqwest, aiohttp): stopping must not
    # wait for their handler threads (socketserver joins them on close by default).
    server._server.block_on_close = False
    server._server.daemon_threads = True
    host, port = server.get_host_and_port()
    os.environ.update(
        AWS_ACCESS_KEY_ID=KEY, AWS_SECRET_ACCESS_KEY=SECRET, AWS_DEFAULT_REGION=REGION
    )
    try:
        yield S3Server(f"http://{host}:{port}", server)
    finally:
        server.stop()


def etag(path: str) -> str:
    """A file's ETag as nginx makes it: modification time and size, in hex."""
    st = os.stat(path)
    return f'"{st.st_mtime_ns:x}-{st.st_size:x}"'


class RangeHandler(http.server.SimpleHTTPRequestHandler):
    """Serves a directory read-only, answering ``Range: bytes=a-b`` / ``bytes=-n`` with 206,
    tagging files with an ETag and refusing a read whose ``If-Match`` names another (412),
    and counting requests."""

    counter: list[int]

    def log_message(self, *args: object) -> None:  # quiet
        pass

    def end_headers(self) -> None:
        path = self.translate_path(self.path)
        if os.path.isfile(path):
            self.send_header("ETag", etag(path))
        super().end_headers()

    def send_head(self):
        self.counter[0] += 1
        rng = self.headers.get("Range")
        path = self.translate_path(self.path)
        match = self.headers.get("If-Match")
        if match is not None and os.path.isfile(path) and match.strip() != etag(path):
            self.send_response(412)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return None
        if rng is None or not os.path.isfile(path):
            return super().send_head()
        m = re.fullmatch(r"bytes=(\d*)-(\d*)", rng.strip())
        size = os.path.getsize(path)
        if not m:
            self.send_error(416)
            return None
        a, b = m.groups()
        if a == "":
            start, end = max(0, size - int(b)), size - 1
        else:
            start, end = int(a), min(int(b) if b else size - 1, size - 1)
        if start >= size or start > end:
            self.send_response(416)
            self.send_header("Content-Range", f"bytes */{size}")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return None
        f = open(path, "rb")  # noqa: SIM115 - closed by copyfile's caller
        f.seek(start)
        self.send_response(206)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        self.send_header("Content-Length", str(end - start + 1))
        self.end_headers()
        return _Limited(f, end - start + 1)


class _Limited:
    """A file object that reads at most ``n`` bytes (the range being served)."""

    def __init__(self, f, n: int) -> None:
        self.f, self.n = f, n

    def read(self, size: int = -1) -> bytes:
        if self.n <= 0:
            return b""
        size = self.n if size < 0 else min(size, self.n)
        data = self.f.read(size)
        self.n -= len(data)
        return data

    def close(self) -> None:
        self.f.close()


@dataclass
class HttpServer:
    url: str
    counter: list[int]


@contextmanager
def http_server(directory: str) -> Iterator[HttpServer]:
    """Serve ``directory`` read-only with Range support on 127.0.0.1."""
    counter = [0]
    handler = type("H", (RangeHandler,), {"counter": counter})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), partial(handler, directory=directory))
    httpd.block_on_close = False
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield HttpServer(f"http://127.0.0.1:{httpd.server_address[1]}", counter)
    finally:
        httpd.shutdown()
        httpd.server_close()


class _ProxyHandler(http.server.BaseHTTPRequestHandler):
    """Forwards every request to ``upstream``.  Faults, switched on in ``faults``:
    ``"put"``: a PUT is read in part and its connection then dropped, as a network failure
    mid-upload would; ``"delay"``: a GET waits that many seconds before it is answered;
    ``"truncate"``: a GET's body is cut to half its declared Content-Length; ``"fail"``:
    that many GETs are answered 503 SlowDown (a transient error) before they pass again."""

    protocol_version = "HTTP/1.1"
    upstream: tuple[str, int]
    faults: dict[str, Any]
    log: list[str]

    def log_message(self, *args: object) -> None:  # quiet
        pass

    def _forward(self) -> None:
        import http.client

        length = int(self.headers.get("Content-Length") or 0)
        self.log.append(f"{self.command} {self.path}")
        if self.command == "PUT" and self.faults.get("put"):
            self.rfile.read(length // 2)
            self.close_connection = True
            self.connection.shutdown(2)
            return
        if self.command == "GET" and self.faults.get("fail", 0) > 0:
            self.faults["fail"] -= 1
            self.rfile.read(length)
            body = b"<Error><Code>SlowDown</Code><Message>try again</Message></Error>"
            self.send_response(503)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        if self.command == "GET" and self.faults.get("delay"):
            time.sleep(self.faults["delay"])
        body = self.rfile.read(length) if length else None
        conn = http.client.HTTPConnection(*self.upstream, timeout=30)
        try:
            conn.request(self.command, self.path, body=body, headers=dict(self.headers))
            resp = conn.getresponse()
            data = resp.read()
        except OSError:  # the server stopped while a delayed request slept: nobody waits
            self.close_connection = True
            return
        finally:
            conn.close()
        self.send_response(resp.status)
        for name, value in resp.getheaders():
            if name.lower() not in ("content-length", "transfer-encoding", "connection"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command == "GET" and self.faults.get("truncate") and len(data) > 1:
            self.wfile.write(data[: len(data) // 2])
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(2)
            return
        if self.command != "HEAD":
            self.wfile.write(data)

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _forward


@dataclass
class FaultProxy:
    """A proxy in front of an S3 server: ``endpoint`` to use, ``faults`` to switch on."""

    endpoint: str
    faults: dict[str, Any]
    log: list[str]


@contextmanager
def fault_proxy(upstream: str) -> Iterator[FaultProxy]:
    """A forwarding proxy on 127.0.0.1 in front of the server at ``upstream``."""
    host, port = upstream.removeprefix("http://").rsplit(":", 1)
    faults: dict[str, Any] = {}
    log: list[str] = []
    handler = type(
        "P", (_ProxyHandler,), {"upstream": (host, int(port)), "faults": faults, "log": log}
    )
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.block_on_close = False
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield FaultProxy(f"http://127.0.0.1:{httpd.server_address[1]}", faults, log)
    finally:
        httpd.shutdown()
        httpd.server_close()


def _set_auth_count(server: S3Server, count: str) -> None:
    """moto checks credentials after ``count`` more requests (``inf``: never)."""
    req = urllib.request.Request(
        f"{server.endpoint}/moto-api/reset-auth",
        data=count.encode(),
        method="POST",
        headers={"Content-Type": "text/plain"},
    )
    urllib.request.urlopen(req).read()


@contextmanager
def enforced_auth(server: S3Server, actions: list[str]) -> Iterator[dict[str, str]]:
    """While inside, moto checks credentials and signatures; yields the ``storage_options``
    of a new IAM user allowed ``actions`` (e.g. ``["s3:GetObject", "s3:ListBucket"]``).

    moto accepts any credentials until ``/moto-api/reset-auth`` is posted; afterwards only
    the access keys it generated are accepted, with their policies.  The setting is global
    to moto in this process, so it is switched off again on the way out."""
    import json

    import boto3

    iam = boto3.client(
        "iam",
        endpoint_url=server.endpoint,
        aws_access_key_id=KEY,
        aws_secret_access_key=SECRET,
        region_name=REGION,
    )
    name = f"z5py-{len(iam.list_users()['Users'])}"
    iam.create_user(UserName=name)
    policy = iam.create_policy(
        PolicyName=name,
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}],
            }
        ),
    )
    iam.attach_user_policy(UserName=name, PolicyArn=policy["Policy"]["Arn"])
    key = iam.create_access_key(UserName=name)["AccessKey"]
    _set_auth_count(server, "0")
    try:
        yield {
            "endpoint": server.endpoint,
            "access_key_id": key["AccessKeyId"],
            "secret_access_key": key["SecretAccessKey"],
            "region": REGION,
        }
    finally:
        _set_auth_count(server, "inf")
