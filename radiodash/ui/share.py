"""The Share box: the address of the whole view, on an address a teammate can open.

Plain functions first (tested without a server), then the Streamlit box. The view is every query
parameter but the token, repeated keys kept (`?metrics=a&metrics=b&metrics=c`), each value
percent-encoded. The address: what the viewer reached, unless that is this machine's loopback
(`localhost`, 127.0.0.1, ::1), which no teammate can open — then Streamlit's
`browser.serverAddress` when it was set, else the machine's own network name or address. When
the server listens on loopback only, no URL can work: the box says so instead.
"""
from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import quote, urlencode, urlsplit

LOOPBACK_NAMES = ("localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback")


def view_query(pairs: list[tuple[str, str]]) -> str:
    """`k=v&k=v2…` of every (key, value) but `token`, in order, every reserved character percent-encoded."""
    return urlencode([(k, v) for k, v in pairs if k != "token"], quote_via=quote, safe="")


def is_loopback(host: str | None) -> bool:
    """A name or address that means "this machine" to whoever types it."""
    if not host:
        return False
    h = host.strip("[]").lower()
    if h in LOOPBACK_NAMES or h.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(h).is_loopback
    except ValueError:
        return False


def listens_on_loopback_only(server_address: str | None) -> bool:
    """Streamlit's server.address: unset or "" (every interface), 0.0.0.0 / :: (every interface), or one address."""
    return bool(server_address) and is_loopback(server_address)


def network_host() -> str | None:
    """This machine's name as others can resolve it, else its address on the default route; None when
    neither is known (no network). Sends nothing: a UDP socket's connect only picks the route."""
    for name in (socket.getfqdn(), socket.gethostname()):
        try:
            addrs = {ai[4][0] for ai in socket.getaddrinfo(name, None)}
        except OSError:
            continue
        if name and not is_loopback(name) and any(not is_loopback(a) for a in addrs):
            return name
    for family, probe in ((socket.AF_INET, "192.0.2.1"), (socket.AF_INET6, "2001:db8::1")):
        try:
            with socket.socket(family, socket.SOCK_DGRAM) as s:
                s.connect((probe, 9))
                addr = s.getsockname()[0]
        except OSError:
            continue
        if not is_loopback(addr) and not ipaddress.ip_address(addr).is_unspecified:
            return addr
    return None


@dataclass(frozen=True)
class Shared:
    url: str | None  # None: no address a teammate could open
    note: str | None  # why there is no URL, or where the host came from


def _host_for_url(host: str) -> str:
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def shared_url(page_url: str, pairs: list[tuple[str, str]], *, server_address: str | None,
               configured_address: str | None, port: int, detect=network_host) -> Shared:
    """The URL of this view for a teammate. `page_url`: the address the viewer's browser shows;
    `server_address`: Streamlit's server.address; `configured_address`: browser.serverAddress when
    set by the operator (None at its default); `port`: the port the server serves on."""
    parts = urlsplit(page_url)
    query = view_query(pairs)
    path = parts.path or "/"
    tail = path + (f"?{query}" if query else "")
    if not is_loopback(parts.hostname):
        return Shared(f"{parts.scheme}://{parts.netloc}{tail}", None)
    if listens_on_loopback_only(server_address):
        return Shared(None, f"This server listens on {server_address} only: no other machine can open it. To "
                            "share, restart it listening on the network (server.address = \"0.0.0.0\", as in "
                            ".streamlit/config.toml).")
    if configured_address and not is_loopback(configured_address):
        host, note = configured_address, None
    else:
        host = detect()
        if host is None:
            return Shared(None, "You opened the dashboard through this machine's loopback address, and this "
                                "machine's network name or address could not be found: share the address "
                                "teammates use to reach it, with the view part of this page's address.")
        note = None
    return Shared(f"{parts.scheme}://{_host_for_url(host)}:{parts.port or port}{tail}", note)


def box(token_set: bool) -> None:
    """The Share box in the sidebar: the URL to copy and what a teammate needs besides it."""
    import streamlit as st
    from streamlit import config

    try:
        page_url = st.context.url or ""
    except Exception:  # noqa: BLE001 - no browser (bare mode)
        page_url = ""
    if not page_url:
        page_url = f"http://{st.context.headers.get('host', 'localhost')}/"
    pairs = [(k, v) for k in st.query_params for v in st.query_params.get_all(k)]
    configured = (config.get_option("browser.serverAddress")
                  if config.get_where_defined("browser.serverAddress") != "<default>" else None)
    shared = shared_url(page_url, pairs, server_address=config.get_option("server.address"),
                        configured_address=configured, port=int(config.get_option("server.port")))
    with st.sidebar.popover("Share this view", icon=":material/share:"):
        if shared.url is not None:
            st.caption("Teammates on the network open this address (the whole view: run, metrics, smoothing, "
                       "axis, scale, steps):")
            st.code(shared.url, language=None, wrap_lines=True)
        if shared.note:
            st.warning(shared.note)
        if token_set:
            st.caption("They will need the access token too: ask whoever runs this dashboard. It is never part "
                       "of a shared address.")
