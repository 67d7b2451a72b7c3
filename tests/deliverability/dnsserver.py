"""A small DNS server on loopback (dnslib), answering TXT queries from a dict the test
changes as it goes, over UDP and TCP on one free port: the product's resolver
(DNS_NAMESERVERS) and dkimpy's verifier ask it as they would ask a real one."""

import socket

import dns.resolver
from dnslib import QTYPE, RCODE, RR, TXT
from dnslib.server import BaseResolver, DNSServer


class TxtResolver(BaseResolver):
    def __init__(self) -> None:
        self.records: dict[str, list[str]] = {}

    def resolve(self, request, handler):
        reply = request.reply()
        name = str(request.q.qname).rstrip(".").lower()
        known = any(n == name or n.endswith("." + name) for n in self.records)
        if request.q.qtype == QTYPE.TXT and name in self.records:
            for text in self.records[name]:
                chunks = [text[i : i + 255] for i in range(0, len(text), 255)] or [""]
                reply.add_answer(RR(name, QTYPE.TXT, rdata=TXT(chunks), ttl=60))
        elif not known:
            reply.header.rcode = RCODE.NXDOMAIN
        return reply


class LocalDns:
    def __init__(self) -> None:
        self.resolver = TxtResolver()
        self.port = _free_port()
        self.servers = [
            DNSServer(self.resolver, address="127.0.0.1", port=self.port, tcp=tcp, logger=_Quiet())
            for tcp in (False, True)
        ]

    @property
    def records(self) -> dict[str, list[str]]:
        return self.resolver.records

    @property
    def nameserver(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> "LocalDns":
        for server in self.servers:
            server.start_thread()
        return self

    def stop(self) -> None:
        for server in self.servers:
            server.stop()
            server.server.server_close()

    def txt(self, name, timeout=5):
        """dkimpy's dnsfunc: the TXT record at ``name`` as bytes, asked of this server."""
        res = dns.resolver.Resolver(configure=False)
        res.nameservers, res.nameserver_ports = ["127.0.0.1"], {"127.0.0.1": self.port}
        name = name.decode() if isinstance(name, bytes) else name
        try:
            answer = res.resolve(name.rstrip("."), "TXT", lifetime=timeout)
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            return None
        return b"".join(answer[0].strings)


class _Quiet:
    """dnslib logs every query by default."""

    def __getattr__(self, name):
        return lambda *args, **kwargs: None


def _free_port() -> int:
    """A port free for both UDP and TCP on loopback."""
    for _ in range(20):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind(("127.0.0.1", 0))
            port = udp.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
                try:
                    tcp.bind(("127.0.0.1", port))
                except OSError:
                    continue
            return port
    raise RuntimeError("no free port for the test DNS server")
