"""The only code that fetches a web page a model names: public addresses only, bounded.

A URL in a ``read_page`` call comes from a model that read text anyone could have written,
so it is treated as hostile (server-side request forgery). Rules, each enforced here:

* **Public addresses only, checked where the connection is made.** http and https, no
  user info. A host written as an IP address is checked before the request; a host name is
  resolved by :class:`VettedResolver`, which the connector asks for the addresses it then
  connects to: it checks **every** address the name resolves to and returns only those, or
  refuses the name. The connector's DNS cache is off, so each connection resolves (and
  checks) again, and nothing can rebind between the check and the connect.
  :func:`address_allowed` refuses anything ``ipaddress`` does not call global, multicast and
  reserved addresses, cloud metadata endpoints, and IPv6 forms that carry an IPv4 address
  (IPv4-mapped, 6to4, NAT64) whose IPv4 address would be refused.
* **Redirects re-checked.** Followed by hand, at most ``max_redirects``, each target going
  through the same checks; a refused target receives no request.
* **Bounded bytes, time and text.** The body is read in chunks up to ``max_bytes`` and no
  further (``Accept-Encoding: identity``, no automatic decompression, so the cap counts the
  bytes that arrive); the whole read, redirects and extraction included, runs under
  ``timeout``; the text returned is at most ``max_chars``.
* **Web pages only.** ``text/html`` is reduced to its readable text by trafilatura (made
  for that: it drops navigation, scripts, footers and boilerplate), off the event loop;
  ``text/plain`` is returned as is; any other type is refused with a reason.

Tests pass their stand-in's origin in ``allowed_private``, as the attachments code does;
nothing here allows a private address by default.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Iterable
from dataclasses import dataclass

import aiohttp
import trafilatura
import yarl
from aiohttp.abc import AbstractResolver, ResolveResult

from bot.attachments.download import Origin, read_capped

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

METADATA_ADDRESSES = frozenset({
    ipaddress.ip_address("169.254.169.254"),
    ipaddress.ip_address("fd00:ec2::254"),
})
"""Cloud instance metadata (AWS, GCP, Azure, ... on IPv4; AWS Nitro on IPv6)."""
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_PAGE_TYPES = frozenset({"text/html", "text/plain"})
_HEADERS = {
    "Accept": "text/html, text/plain;q=0.9",
    "Accept-Encoding": "identity",
    "User-Agent": "greenflash-discord-bot (read_page)",
}


def _embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    if isinstance(address, ipaddress.IPv4Address):
        return None
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFF_FFFF)
    return address.ipv4_mapped or address.sixtofour


def _public(address: IPAddress) -> bool:
    return (address.is_global and not address.is_multicast and not address.is_reserved
            and address not in METADATA_ADDRESSES)


def address_allowed(address: IPAddress) -> bool:
    """Whether the bot may connect to ``address`` for a page someone named."""
    embedded = _embedded_ipv4(address)
    return _public(address) and (embedded is None or _public(embedded))


class AddressRefused(OSError):
    """A host name that resolves to an address the bot must not connect to."""


class VettedResolver(AbstractResolver):
    """Resolves with ``getaddrinfo`` and returns only checked addresses, so the connector
    connects to nothing else. A name with any refused address is refused as a whole:
    a name that mixes public and private addresses is an attack, not a web site."""

    def __init__(self, allowed_private: Iterable[tuple[str, int]] = ()) -> None:
        self._inner = aiohttp.ThreadedResolver()
        self._allowed_private = frozenset(allowed_private)

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        if (host.lower(), port) in self._allowed_private:
            return results
        refused = [r["host"] for r in results if not address_allowed(_address(r["host"]))]
        if refused or not results:
            raise AddressRefused(f"{host} resolves to a non-public address")
        return results

    async def close(self) -> None:
        await self._inner.close()


def _address(text: str) -> IPAddress:
    return ipaddress.ip_address(text.partition("%")[0])


@dataclass(frozen=True, slots=True)
class PageText:
    """A page's readable text; ``url`` is where it was read after any redirects."""

    url: str
    text: str
    truncated: bool


@dataclass(frozen=True, slots=True)
class PageRefused:
    """Why a page was not read, as a sentence the model can pass on."""

    url: str
    reason: str


PageResult = PageText | PageRefused


@dataclass(frozen=True, slots=True)
class PageLimits:
    max_bytes: int = 2 * 1024 * 1024
    max_chars: int = 12_000
    timeout: float = 10.0
    max_redirects: int = 5


@dataclass(frozen=True, slots=True)
class _Body:
    data: bytes
    content_type: str
    charset: str | None
    complete: bool


class _Refusal(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class PageReader:
    """Reads pages within the limits; one instance (one HTTP session) serves the bot."""

    def __init__(
        self, limits: PageLimits = PageLimits(), *, allowed_private: Iterable[Origin] = ()
    ) -> None:
        self.limits = limits
        self.allowed_private = frozenset(allowed_private)
        self.bytes_read = 0
        """Body bytes consumed by every read so far (for logs and tests)."""
        self._session: aiohttp.ClientSession | None = None

    def _open(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            resolver = VettedResolver((o.host, o.port) for o in self.allowed_private)
            connector = aiohttp.TCPConnector(resolver=resolver, use_dns_cache=False, limit=20)
            self._session = aiohttp.ClientSession(
                connector=connector, auto_decompress=False, headers=_HEADERS, trust_env=False
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def read(self, url: str) -> PageResult:
        """The readable text of the page at ``url``, or why it was not read."""
        current = url
        try:
            async with asyncio.timeout(self.limits.timeout):
                target = self._checked(url)
                for _ in range(self.limits.max_redirects + 1):
                    current = str(target)
                    answer = await self._get(target)
                    if isinstance(answer, _Body):
                        return await self._text(current, answer)
                    current = str(target.join(yarl.URL(answer)))
                    target = self._checked(current)
                raise _Refusal(f"the page redirects more than {self.limits.max_redirects} times")
        except _Refusal as refusal:
            return PageRefused(current, refusal.reason)
        except TimeoutError:
            return PageRefused(current, f"the page did not load within {self.limits.timeout:g}"
                                        " seconds")
        except aiohttp.ClientConnectorError as error:
            if isinstance(error.os_error, AddressRefused):
                return PageRefused(current, "that address is not a public web site")
            return PageRefused(current, "the site could not be reached")
        except aiohttp.ClientPayloadError:
            return PageRefused(current, "the page's transfer broke off before its announced end")
        except aiohttp.ClientError:
            return PageRefused(current, "the site could not be reached")

    def _checked(self, url: str) -> yarl.URL:
        """The parsed URL when it may be requested: what was checked is what is fetched."""
        try:
            parsed = yarl.URL(url)
            scheme, host = parsed.scheme.lower(), (parsed.host or "").lower()
            origin = Origin(scheme, host, parsed.port or 0)
        except (ValueError, TypeError, UnicodeError):
            raise _Refusal("that is not a valid web address") from None
        if scheme not in {"http", "https"} or not host or not parsed.is_absolute():
            raise _Refusal("only http and https web pages can be read")
        if parsed.user is not None or parsed.password is not None:
            raise _Refusal("web addresses with a user name or password are not read")
        if origin in self.allowed_private:
            return parsed
        try:
            literal = _address(host)
        except ValueError:
            return parsed  # a name: VettedResolver checks what it resolves to
        if not address_allowed(literal):
            raise _Refusal("that address is not a public web site")
        return parsed

    async def _get(self, url: yarl.URL) -> _Body | str:
        """The body (capped), or the redirect's ``Location``."""
        async with self._open().get(url, allow_redirects=False) as response:
            if response.status in _REDIRECTS:
                location = response.headers.get("Location")
                if not location:
                    raise _Refusal("the page redirects without saying where")
                return location
            if response.status != 200:
                raise _Refusal(f"the site answered HTTP {response.status}")
            if response.content_type not in _PAGE_TYPES:
                raise _Refusal(f"it is a {response.content_type} file, not a web page"
                               " (only HTML and plain text are read)")
            body, complete = await read_capped(response.content, self.limits.max_bytes)
            self.bytes_read += len(body)
            if not complete:
                response.close()
            return _Body(body, response.content_type, response.charset, complete)

    async def _text(self, url: str, body: _Body) -> PageResult:
        try:
            decoded = body.data.decode(body.charset or "utf-8", errors="replace")
        except LookupError:
            decoded = body.data.decode("utf-8", errors="replace")
        if body.content_type == "text/html":
            decoded = await asyncio.to_thread(_readable, decoded)
        text = decoded.strip()
        if not text:
            return PageRefused(url, "no readable text was found on the page")
        limit = self.limits.max_chars
        return PageText(url, text[:limit], len(text) > limit or not body.complete)


def _readable(html: str) -> str:
    """The article text of an HTML page, without navigation, scripts and boilerplate."""
    return trafilatura.extract(html, include_comments=False, include_tables=True) or ""
