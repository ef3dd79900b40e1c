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


def client_network() -> str:
    """The key of a client's per-IP limit: its address, or its /64 for IPv6 (one household's
    prefix holds more addresses than anyone could count through)."""
    address = request.remote_addr or ""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if ip.version == 6 and ip.ipv4_mapped:
        return str(ip.ipv4_mapped)
    if ip.version == 6:
        return str(ipaddress.ip_network(f"{ip}/64", strict=False).network_address)
    return str(ip)
