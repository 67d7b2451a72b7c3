"""DNS look-ups for the sending-domain checks, through a resolver the settings can point at
given name servers (DNS_NAMESERVERS: "ip[:port],…"; empty: the system's), so a test's
loopback DNS server answers them as a real one would."""

import dns.exception
import dns.resolver
from django.conf import settings


class LookupFailed(Exception):
    """The name servers did not answer (timeout, SERVFAIL): neither found nor missing."""


def resolver() -> dns.resolver.Resolver:
    servers = [s.strip() for s in getattr(settings, "DNS_NAMESERVERS", []) if s.strip()]
    if not servers:
        res = dns.resolver.Resolver()
    else:
        res = dns.resolver.Resolver(configure=False)
        res.nameservers = []
        ports = {}
        for server in servers:
            host, _, port = server.rpartition(":") if server.count(":") == 1 else (server, "", "")
            res.nameservers.append(host)
            if port:
                ports[host] = int(port)
        res.nameserver_ports = ports
    res.lifetime = res.timeout = getattr(settings, "DNS_TIMEOUT", 5.0)
    return res


def txt_records(name: str) -> list[str]:
    """The TXT strings at ``name`` (each record's strings joined, RFC 7208 3.3); [] when
    the name or the record type does not exist."""
    try:
        answer = resolver().resolve(name, "TXT")
    except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
        return []
    except (dns.exception.DNSException, OSError) as exc:
        raise LookupFailed(f"{name}: {exc.__class__.__name__}") from exc
    return [b"".join(rdata.strings).decode(errors="replace") for rdata in answer]
