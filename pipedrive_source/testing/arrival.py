"""When a request reached the simulator: the kernel's receive time, not the time a handler thread got to it.

A gateway counts a request against its rate limit when the request arrives. The simulator is one Python
process: a handler thread may wait for the GIL behind other threads that are serializing pages, tens of ms
on a busy machine (up to 80 ms measured in the rate-limited 200,000-deal benchmark). Stamping the request
then would move it in time and count requests into a second they did not arrive in, refusing what a
gateway would take. On Linux the kernel stamps every received packet (`SO_TIMESTAMPNS`); peeking at the
first byte of a request returns that stamp without consuming the byte.
Elsewhere, or if the socket refuses the option, the handler's own clock is used.
"""

from __future__ import annotations

import socket
import struct
import sys
import time

SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)
"""`SO_TIMESTAMPNS` (Linux's asm-generic value; Python's socket module does not name it); also the type of
the control message that carries the stamp."""

_TIMESPEC = struct.Struct("qq")


def stamp_arrivals(connection: socket.socket) -> bool:
    """Ask the kernel to stamp what this connection receives; False where it cannot."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        connection.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    except OSError:
        return False
    return True


def next_arrival(connection: socket.socket) -> float | None:
    """Wait for the next request on `connection` and return when it arrived, on `time.monotonic()`'s clock.

    The request's first byte is peeked, not read: the handler reads the request as usual. None when the
    connection closed or the kernel gave no stamp. Only for connections whose reader holds nothing
    buffered (a client that waits for each answer before the next request, as HTTP clients do).
    """
    try:
        data, ancillary, _flags, _address = connection.recvmsg(
            1, socket.CMSG_SPACE(_TIMESPEC.size), socket.MSG_PEEK
        )
    except OSError:
        return None
    if not data:
        return None
    for level, kind, payload in ancillary:
        if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(payload) >= _TIMESPEC.size:
            seconds, nanoseconds = _TIMESPEC.unpack_from(payload)
            # the kernel's stamp is wall-clock time; the limits run on the monotonic clock
            return time.monotonic() - (time.time() - (seconds + nanoseconds / 1e9))
    return None
