"""Where outgoing webhooks may go: public addresses only, unless WEBHOOK_ALLOWED_NETWORKS
lets an internal network in (a self-hosted CRM). Checked when a subscriber is saved and again
at every delivery, on the addresses DNS gives then, and the request goes to the address that
was checked, so a DNS answer that changes between check and connect cannot redirect it."""

import ipaddress
import socket
from dataclasses import dataclass

import httpx
from django.conf import settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Cloud instance-metadata endpoints (AWS, AWS ECS, GCP/Azure/OpenStack share the first,
# AWS over IPv6, Alibaba, Azure's wire server): never a receiver, whatever is allowed.
METADATA = frozenset(
    ipaddress.ip_address(a)
    for a in (
        "169.254.169.254",
        "169.254.170.2",
        "fd00:ec2::254",
        "100.100.100.200",
        "168.63.129.16",
    )
)


METADATA_KIND = "a cloud metadata address"


class RefusedTarget(ValueError):
    """The URL names, or resolves to, an address webhooks may not be sent to."""


@dataclass(frozen=True)
class Target:
    urls: list[httpx.URL]  # the URL on each checked address, to be tried in DNS order
    host: str  # the name the receiver expects in Host and, over https, in TLS (SNI)
    netloc: str  # the original host[:port], for the Host header


def _kind(ip: IPAddress) -> str | None:
    """What kind of non-public address ip is, or None when it is public."""
    if ip in METADATA:
        return METADATA_KIND
    if ip.is_loopback:
        return "a loopback address"
    if ip.is_link_local:
        return "a link-local address"
    if ip.is_multicast:
        return "a multicast address"
    if ip.is_unspecified:
        return "an unspecified address"
    if ip.is_reserved:
        return "a reserved address"
    if ip.is_private:
        return "a private address"
    if not ip.is_global:
        return "not a public address"
    return None


def _allowed(ip: IPAddress) -> bool:
    networks = [ipaddress.ip_network(n, strict=False) for n in settings.WEBHOOK_ALLOWED_NETWORKS]
    return any(ip.version == net.version and ip in net for net in networks)


def address_refusal(ip: IPAddress) -> str | None:
    """Why a webhook may not be sent to ip ("a loopback address"), or None when it may."""
    # An IPv6 address can carry an IPv4 one (::ffff:127.0.0.1, 2002:7f00:1::): judge that.
    inner = None
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped:
            ip = ip.ipv4_mapped  # the IPv4 address itself, on the wire
        else:
            inner = ip.sixtofour
    for candidate in (ip, inner):
        kind = _kind(candidate) if candidate is not None else None
        if kind == METADATA_KIND:
            return kind
        if kind and candidate is not None and not _allowed(candidate):
            return f"{kind}; if it is your own network, add it to WEBHOOK_ALLOWED_NETWORKS"
    return None


def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address host has now (an IP literal is its own). Raises OSError when the name
    does not resolve."""
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    # Drop an IPv6 zone ("fe80::1%eth0") before parsing.
    return list(dict.fromkeys(ipaddress.ip_address(str(i[4][0]).split("%")[0]) for i in infos))


def _check(host: str, addresses: list[IPAddress]) -> None:
    for ip in addresses:
        kind = address_refusal(ip)
        if kind:
            where = host if str(ip) == host else f"{host} ({ip})"
            raise RefusedTarget(f"{where} is {kind}")


def _host_port(url: httpx.URL) -> tuple[str, int]:
    # raw_host is the ASCII (IDNA) name DNS knows; an IPv6 literal comes without brackets.
    return url.raw_host.decode("ascii"), url.port or (443 if url.scheme == "https" else 80)


def url_refusal(url: str) -> str | None:
    """At save: why webhooks may not go to url, or None. A name that does not resolve now
    is accepted (DNS may be down for a moment); every delivery checks it again."""
    try:
        host, port = _host_port(httpx.URL(url))
        addresses = resolve(host, port)
    except (httpx.InvalidURL, OSError, UnicodeError):
        return None  # not a URL (the field says so) or not resolvable now
    try:
        _check(host, addresses)
    except RefusedTarget as exc:
        return f"Webhooks cannot be sent here: {exc}."
    return None


def checked_target(url: str) -> Target:
    """At delivery: the URL to connect to, on an address checked just now. Raises
    RefusedTarget (never send) or OSError (DNS failed: try again later)."""
    parsed = httpx.URL(url)
    host, port = _host_port(parsed)
    addresses = resolve(host, port)
    # Every address is checked, not only the one used: a name that also points inside is
    # refused as a whole rather than working by luck of the order.
    _check(host, addresses)
    return Target(
        urls=[parsed.copy_with(host=str(ip)) for ip in addresses],
        host=host,
        netloc=parsed.netloc.decode("ascii"),
    )
