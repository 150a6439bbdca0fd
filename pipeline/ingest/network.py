"""The sockets under a fetch: one deadline over the whole exchange, and no hop inside the network.

httpx's timeouts are per operation: a server that sends one byte just before each read timeout
holds a fetch forever, whether it drips the status line, the headers or the body. Every read
and write here is bounded by the fetch's own deadline too, so the whole response (status line,
headers and body) arrives within the configured budget or the fetch stops.

A feed URL is someone else's choice, and so is every redirect it answers with. A hop from a
public feed into loopback, private, link-local, multicast or otherwise reserved addresses
(cloud metadata at 169.254.169.254, an admin page on 127.0.0.1) is refused before connecting,
whatever the spelling (decimal 2130706433, octal 0177.0.0.1, IPv6-mapped ::ffff:10.0.0.1, or a
DNS name that resolves there): the check runs on the addresses the name resolves to, right
before the connection is made to exactly that address. A source that itself lives in such a
range (a feed on the intranet, a test server on 127.0.0.1) may reach its own kind of address.
"""

from __future__ import annotations

import contextlib
import contextvars
import ipaddress
import socket
import ssl
import time
import typing
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import httpcore
import httpx

Resolver = Callable[[str, int], list[str]]
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class AddressRefused(Exception):
    """A connection into a range the fetch may not reach; `str()` is one line."""


def system_resolver(host: str, port: int) -> list[str]:
    """The addresses `host` resolves to (the system's resolver; IP literals in any spelling
    the C library accepts come back in their canonical form)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def address_class(address: str) -> str:
    """ "public", or the kind of non-public range the address is in."""
    ip: IPAddress = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:  # ::ffff:10.0.0.1 is 10.0.0.1
            ip = ip.ipv4_mapped
        elif ip in _NAT64:  # 64:ff9b::a00:1 reaches 10.0.0.1 through a NAT64 gateway
            ip = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip.is_loopback:
        return "loopback"
    if ip.is_link_local:
        return "link-local"
    if ip.is_multicast:
        return "multicast"
    if ip.is_unspecified or ip.is_reserved:
        return "reserved"
    if ip.is_private or not ip.is_global:
        return "private"
    return "public"


@dataclass(frozen=True)
class Reach:
    """The kinds of address one fetch may connect to: public ones, and those of its source."""

    allowed: frozenset[str]

    @classmethod
    def of_source(cls, addresses: Iterable[str]) -> Reach:
        return cls(frozenset({"public", *(address_class(a) for a in addresses)}))

    def check(self, host: str, address: str) -> None:
        kind = address_class(address)
        if kind not in self.allowed:
            raise AddressRefused(
                f"refusing to connect to {host} ({address}, a {kind} address) from a feed "
                "outside that network"
            )


@dataclass
class FetchLimits:
    """What bounds the sockets of the fetch under way (a retry's pause moves the deadline)."""

    deadline: float
    reach: Reach


_CURRENT: contextvars.ContextVar[FetchLimits | None] = contextvars.ContextVar(
    "paperround_fetch_limits", default=None
)


@contextlib.contextmanager
def limits(deadline: float, reach: Reach) -> Iterator[FetchLimits]:
    """Every connection made in this block obeys `deadline` (time.monotonic) and `reach`."""
    current = FetchLimits(deadline, reach)
    token = _CURRENT.set(current)
    try:
        yield current
    finally:
        _CURRENT.reset(token)


def _remaining(timeout: float | None, exc: type[Exception]) -> float | None:
    current = _CURRENT.get()
    if current is None:
        return timeout
    left = current.deadline - time.monotonic()
    if left <= 0:
        raise exc("the fetch's overall deadline passed")
    return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore.NetworkStream):
    """A stream whose every read and write ends by the fetch's deadline."""

    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _remaining(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _remaining(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        stream = self._inner.start_tls(
            ssl_context, server_hostname, _remaining(timeout, httpcore.ConnectTimeout)
        )
        return _DeadlineStream(stream)

    def get_extra_info(self, info: str) -> typing.Any:
        return self._inner.get_extra_info(info)


class GuardedBackend(httpcore.NetworkBackend):
    """Resolves, checks the address against the fetch's reach, connects to that very address."""

    def __init__(self, resolver: Resolver = system_resolver) -> None:
        self._inner = httpcore.SyncBackend()
        self._resolve = resolver

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: typing.Iterable[typing.Any] | None = None,
    ) -> httpcore.NetworkStream:
        current = _CURRENT.get()
        try:
            addresses = self._resolve(host, port)
        except (OSError, UnicodeError) as exc:
            raise httpcore.ConnectError(f"cannot resolve host {host!r}: {exc}") from exc
        if current is not None:
            for address in addresses:
                current.reach.check(host, address)
        failure: Exception | None = None
        for address in addresses:
            try:
                stream = self._inner.connect_tcp(
                    address,
                    port,
                    _remaining(timeout, httpcore.ConnectTimeout),
                    local_address,
                    socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
                continue
            return _DeadlineStream(stream)
        if failure is not None:
            raise failure
        raise httpcore.ConnectError(f"host {host!r} resolved to no address")

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: typing.Iterable[typing.Any] | None = None,
    ) -> httpcore.NetworkStream:
        raise AddressRefused("feeds are fetched over TCP only")

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


def guarded_transport(resolver: Resolver = system_resolver) -> httpx.HTTPTransport:
    """An httpx transport whose connections go through GuardedBackend.

    httpx offers no parameter for a network backend, so its transport gets a connection pool
    built the way httpx builds it (certificate checks on, no proxies from the environment)
    with ours in it: httpcore's network backend is the documented place to hook sockets."""
    transport = httpx.HTTPTransport(trust_env=False)
    transport._pool = httpcore.ConnectionPool(
        ssl_context=httpx.create_ssl_context(trust_env=False),
        max_connections=10,
        max_keepalive_connections=5,
        keepalive_expiry=5.0,
        network_backend=GuardedBackend(resolver),
    )
    return transport
