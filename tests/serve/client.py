#!/usr/bin/env python3
"""client.py MODE PORT ARGS... - raw HTTP/1.1 clients for tests/serve.

  pipeline PORT          three requests in one write (GET /p1, POST /p2
                         with a body, GET /p3 + close); prints the count of
                         responses and their path= lines, in order
  pipeline-eof PORT      the same, GET /p3 without close, then a
                         half-close (shutdown(SHUT_WR))
  trailers PORT PATH     a chunked POST with request trailers; prints
                         "STATUS BODY name=value,..." (response trailers)
  hold PORT N PATH GO    opens N connections, each sending a chunked POST
                         and one chunk "abc"; waits for each to echo "abc"
                         back; prints "ready"; waits for the file GO to
                         exist; sends "xyz" and the last chunk; prints
                         "STATUS BODY" per connection
  nohost PORT            an HTTP/1.0 request without Host; prints the status
  status PORT RAW        sends RAW (with \\r\\n escapes) and prints the
                         first response's status code

Every socket operation has a timeout; errors print "error: ...".
"""
import os
import socket
import sys
import time

TIMEOUT = 30


class Reader:
    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def fill(self):
        b = self.sock.recv(65536)
        if not b:
            raise EOFError("connection closed")
        self.buf += b

    def line(self):
        while b"\r\n" not in self.buf:
            self.fill()
        ln, self.buf = self.buf.split(b"\r\n", 1)
        return ln

    def exactly(self, n):
        while len(self.buf) < n:
            self.fill()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def until_close(self):
        try:
            while True:
                self.fill()
        except EOFError:
            pass
        out, self.buf = self.buf, b""
        return out


def read_headers(r):
    fields = []
    while True:
        ln = r.line()
        if not ln:
            return fields
        k, _, v = ln.partition(b":")
        fields.append((k.strip().lower().decode(), v.strip().decode()))


def read_response(r, head=False):
    """One response: (status, headers, body, trailers); skips 1xx."""
    while True:
        status = int(r.line().split()[1])
        headers = read_headers(r)
        if status >= 200:
            break
    h = dict(headers)
    body, trailers = b"", []
    if head or status in (204, 304):
        pass
    elif h.get("transfer-encoding", "").lower() == "chunked":
        while True:
            size = int(r.line().split(b";")[0], 16)
            if size == 0:
                trailers = read_headers(r)
                break
            body += r.exactly(size)
            r.line()
    elif "content-length" in h:
        body = r.exactly(int(h["content-length"]))
    else:
        body = r.until_close()
    return status, headers, body, trailers


def connect(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
    s.settimeout(TIMEOUT)
    return s


def pipeline(port, half_close=False):
    s = connect(port)
    close = b"" if half_close else b"Connection: close\r\n"
    s.sendall(b"GET /p1 HTTP/1.1\r\nHost: x\r\n\r\n"
              b"POST /p2 HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nabcde"
              b"GET /p3 HTTP/1.1\r\nHost: x\r\n" + close + b"\r\n")
    if half_close:
        # the client's EOF arrives while the first request runs: the
        # held requests are still answered, then the server closes
        s.shutdown(socket.SHUT_WR)
    r = Reader(s)
    paths = []
    for _ in range(3):
        status, _, body, _ = read_response(r)
        line = [ln for ln in body.decode().split("\n") if ln.startswith("path=")]
        paths.append("%d:%s" % (status, line[0] if line else "?"))
    print(len(paths), " ".join(paths))


def trailers(port, path):
    s = connect(port)
    s.sendall(b"POST " + path.encode() + b" HTTP/1.1\r\nHost: x\r\n"
              b"Transfer-Encoding: chunked\r\nTE: trailers\r\n"
              b"Connection: close\r\n\r\n"
              b"3\r\nabc\r\n3\r\ndef\r\n0\r\nx-sum: 42\r\nx-b: q\r\n\r\n")
    status, _, body, tr = read_response(Reader(s))
    print(status, body.decode(errors="replace") or "-",
          ",".join(sorted("%s=%s" % t for t in tr)) or "-")


def hold(port, n, path, go):
    socks = []
    for _ in range(n):
        s = connect(port)
        s.sendall(b"POST " + path.encode() + b" HTTP/1.1\r\nHost: x\r\n"
                  b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
                  b"3\r\nabc\r\n")
        socks.append(s)
    readers = []
    for s in socks:
        r = Reader(s)
        # the response head and the echoed first chunk: the guest is running
        while b"abc" not in r.buf:
            r.fill()
        readers.append(r)
    print("ready", flush=True)
    deadline = time.time() + TIMEOUT
    while not os.path.exists(go) and time.time() < deadline:
        time.sleep(0.05)
    out = []
    for s, r in zip(socks, readers):
        s.sendall(b"3\r\nxyz\r\n0\r\n\r\n")
        try:
            status, _, body, _ = read_response(r)
            out.append("%d %s" % (status, body.decode(errors="replace")))
        except Exception as e:  # noqa: BLE001 - reported as the result
            out.append("error: %s" % e)
    print(" | ".join(out), flush=True)


def raw_status(port, raw):
    s = connect(port)
    s.sendall(raw)
    print(read_response(Reader(s))[0])


def main():
    mode, port = sys.argv[1], int(sys.argv[2])
    try:
        if mode == "pipeline":
            pipeline(port)
        elif mode == "pipeline-eof":
            pipeline(port, True)
        elif mode == "trailers":
            trailers(port, sys.argv[3])
        elif mode == "hold":
            hold(port, int(sys.argv[3]), sys.argv[4], sys.argv[5])
        elif mode == "nohost":
            raw_status(port, b"GET / HTTP/1.0\r\n\r\n")
        elif mode == "status":
            raw_status(port, sys.argv[3].encode().decode("unicode_escape")
                       .encode("latin-1"))
        else:
            print("error: unknown mode", mode)
    except Exception as e:  # noqa: BLE001 - the test prints what happened
        print("error: %s" % e, flush=True)


if __name__ == "__main__":
    main()
