"""A TCP forwarder that can be cut: how the chaos suite takes table storage away mid-tick.

While `down`, new connections are closed as soon as they are accepted and the ones in
use are cut, which is what a client sees when the storage front end goes away (the SDK
gets connection resets and refusals, not slow answers).
"""

from __future__ import annotations

import selectors
import socket
import threading


class CuttableProxy:
    def __init__(self, target_port: int, host: str = "127.0.0.1"):
        self._target = (host, target_port)
        self._listener = socket.create_server((host, 0), backlog=512)
        self.port = self._listener.getsockname()[1]
        self._down = threading.Event()
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._thread = threading.Thread(target=self._accept, name="chaos-proxy", daemon=True)

    def start(self) -> "CuttableProxy":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._listener.close()
        self._cut_all()

    def down(self) -> None:
        self._down.set()
        self._cut_all()

    def up(self) -> None:
        self._down.clear()

    def _cut_all(self) -> None:
        with self._lock:
            sockets, self._open = list(self._open), set()
        for sock in sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()

    def _accept(self) -> None:
        while not self._stopping.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if self._down.is_set():
                client.close()
                continue
            try:
                upstream = socket.create_connection(self._target, timeout=5)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._open.update((client, upstream))
            threading.Thread(target=self._pump, args=(client, upstream), daemon=True).start()

    def _pump(self, client: socket.socket, upstream: socket.socket) -> None:
        peers = {client: upstream, upstream: client}
        with selectors.DefaultSelector() as selector:
            for sock in peers:
                selector.register(sock, selectors.EVENT_READ)
            try:
                while True:
                    for key, _ in selector.select(timeout=1.0):
                        data = key.fileobj.recv(65536)
                        if not data:
                            return
                        peers[key.fileobj].sendall(data)
                    if self._stopping.is_set():
                        return
            except (OSError, ValueError):
                return
            finally:
                with self._lock:
                    self._open.difference_update(peers)
                for sock in peers:
                    sock.close()
