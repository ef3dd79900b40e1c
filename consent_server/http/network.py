"""What we keep of a client's address: its network part for the ledger and logs (L-04), and the
key of its rate limits (S-03)."""
import ipaddress

from flask import request


def truncate_ip(address: str | None) -> str | None:
    """The network part only (L-04): IPv4 to /24, IPv6 to /48; None for anything else."""
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return None
    if ip.version == 6 and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    prefix = 24 if ip.version == 4 else 48
    return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False).network_address)


def network_of(address: str | None, v6_prefix: int = 64) -> str:
    """The key a client's limits count on: an IPv4 address itself, an IPv6 address's network
    (/64 by default: one household's prefix holds more addresses than anyone could count
    through); anything else as it came."""
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return address or ""
    if ip.version == 6 and ip.ipv4_mapped:
        return str(ip.ipv4_mapped)
    if ip.version == 6:
        return str(ipaddress.ip_network(f"{ip}/{v6_prefix}", strict=False).network_address)
    return str(ip)


def client_network() -> str:
    """The key of a client's per-IP limits: its address, or its /64 for IPv6."""
    return network_of(request.remote_addr)


def client_site() -> str:
    """The key of the looser second limit on public writes: an IPv6 client's /48 (what one
    site or customer is given, L-04's prefix), so hopping between /64s inside it gains
    nothing; an IPv4 address itself."""
    return network_of(request.remote_addr, 48)
