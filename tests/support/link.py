"""A network link between the record and its server that a test can cut as a pulled cable cuts it.

Why not stop the server: a stopped server refuses connections at once, which the record notices at once.
A pulled cable is worse: nothing answers and nothing is refused, and a call on an open connection simply
hangs. This link is a TCP relay on 127.0.0.1; `cut()` stops relaying in both directions without closing
anything (bytes sent meanwhile wait in the relay, as on a dead wire), `mend()` lets them flow again.
"""

from __future__ import annotations

import contextlib
import select
import socket
import threading
from collections.abc import Iterator

CHUNK = 65536


class Link:
    """Relays 127.0.0.1:`port` to the server's `target_port` while `flowing`."""

    def __init__(self, target_port: int) -> None:
        self._target = ("127.0.0.1", target_port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._listener.getsockname()[1])
        self._flowing = threading.Event()
        self._flowing.set()
        self._closed = threading.Event()
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, name="link-accept", daemon=True).start()

    def cut(self) -> None:
        self._flowing.clear()

    def mend(self) -> None:
        self._flowing.set()

    def close(self) -> None:
        self._closed.set()
        self._flowing.set()
        self._listener.close()
        with self._lock:
            for sock in self._sockets:
                with contextlib.suppress(OSError):
                    sock.close()

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._relay, args=(client,), name="link-relay", daemon=True).start()

    def _relay(self, client: socket.socket) -> None:
        self._flowing.wait()  # a connection made while cut gets no answer until mended
        try:
            server = socket.create_connection(self._target)
        except OSError:
            client.close()
            return
        with self._lock:
            self._sockets += [client, server]
        peers = {client: server, server: client}
        try:
            while not self._closed.is_set():
                self._flowing.wait()
                ready, _, _ = select.select(list(peers), [], [], 0.05)
                if not self._flowing.is_set():
                    continue  # cut while waiting: what arrived stays unread, like bytes on a dead wire
                for sock in ready:
                    data = sock.recv(CHUNK)
                    if not data:
                        return
                    peers[sock].sendall(data)
        except (OSError, ValueError):  # ValueError: a socket closed by `close` while selected
            return
        finally:
            for sock in peers:
                with contextlib.suppress(OSError):
                    sock.close()


@contextlib.contextmanager
def link_to(port: int) -> Iterator[Link]:
    link = Link(port)
    try:
        yield link
    finally:
        link.close()
