"""``read_page`` against the page-server stand-in over real sockets: readable text, every
refusal with its reason, the byte cap and the time limit; and the address check as a
property over generated addresses. Nothing here sends a request beyond 127.0.0.1: a
refused target is refused before any connection."""

from __future__ import annotations

import ipaddress
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from hypothesis import given
from hypothesis import strategies as st

from bot.agent.pages import (
    AddressRefused,
    PageLimits,
    PageReader,
    PageRefused,
    PageText,
    VettedResolver,
    address_allowed,
)
from bot.attachments.download import Origin
from tests.helpers import until
from tests.standins.discord_cdn import Served
from tests.standins.web_pages import (
    AD_TEXT,
    ARTICLE_TEXT,
    FOOTER_TEXT,
    NAV_TEXT,
    PLAIN_TEXT,
    SCRIPT_TEXT,
    WebPagesStandIn,
)

LIMITS = PageLimits(max_bytes=256 * 1024, max_chars=4_000, timeout=2.0, max_redirects=5)
NOT_PUBLIC = "that address is not a public web site"


@pytest_asyncio.fixture
async def site() -> AsyncIterator[WebPagesStandIn]:
    async with WebPagesStandIn(big_size=64 * LIMITS.max_bytes) as standin:
        yield standin


@pytest_asyncio.fixture
async def other_site() -> AsyncIterator[WebPagesStandIn]:
    async with WebPagesStandIn() as standin:
        yield standin


@pytest_asyncio.fixture
async def reader(site: WebPagesStandIn) -> AsyncIterator[PageReader]:
    reader = PageReader(LIMITS, allowed_private={Origin("http", "127.0.0.1", site.port)})
    yield reader
    await reader.close()


async def ended(entry: Served) -> Served:
    return await until(lambda: entry if entry.finished or entry.aborted else None,
                       "the page server to finish or lose the request")


async def test_an_article_is_reduced_to_its_text_without_script_nav_ads_or_footer(
    site: WebPagesStandIn, reader: PageReader
) -> None:
    page = await reader.read(f"{site.base_url}/article")
    assert isinstance(page, PageText)
    assert ARTICLE_TEXT in page.text
    for noise in (SCRIPT_TEXT, NAV_TEXT.split()[-1], AD_TEXT, FOOTER_TEXT):
        assert noise not in page.text
    assert not page.truncated


async def test_a_plain_text_page_is_returned_as_written(
    site: WebPagesStandIn, reader: PageReader
) -> None:
    assert await reader.read(f"{site.base_url}/plain") == PageText(
        f"{site.base_url}/plain", PLAIN_TEXT.strip(), truncated=False
    )


async def test_the_text_is_cut_to_the_character_bound(site: WebPagesStandIn) -> None:
    reader = PageReader(PageLimits(max_chars=20),
                        allowed_private={Origin("http", "127.0.0.1", site.port)})
    page = await reader.read(f"{site.base_url}/plain")
    await reader.close()
    assert isinstance(page, PageText)
    assert page.text == PLAIN_TEXT[:20] and page.truncated


@pytest.mark.parametrize(("path", "kind"), [
    ("/report.pdf", "application/pdf"), ("/photo.png", "image/png"),
])
async def test_a_file_that_is_not_a_page_is_refused_unread(
    site: WebPagesStandIn, reader: PageReader, path: str, kind: str
) -> None:
    page = await reader.read(f"{site.base_url}{path}")
    assert isinstance(page, PageRefused)
    assert f"it is a {kind} file, not a web page" in page.reason
    assert reader.bytes_read == 0


async def test_a_page_without_readable_text_says_so(
    site: WebPagesStandIn, reader: PageReader
) -> None:
    page = await reader.read(f"{site.base_url}/empty")
    assert page == PageRefused(f"{site.base_url}/empty", "no readable text was found on the page")


async def test_a_relative_redirect_is_followed_and_the_final_url_reported(
    site: WebPagesStandIn, reader: PageReader
) -> None:
    page = await reader.read(f"{site.base_url}/redirect?to=/plain")
    assert isinstance(page, PageText)
    assert page.url == f"{site.base_url}/plain" and page.text == PLAIN_TEXT.strip()


@pytest.mark.parametrize("target", [
    "http://10.0.0.1/", "http://169.254.169.254/latest/meta-data/", "http://[::1]/",
    "http://[::ffff:a00:1]/", "http://0.0.0.0/", "http://100.64.0.1/",
])
async def test_a_redirect_to_a_private_address_is_refused_before_any_request(
    site: WebPagesStandIn, reader: PageReader, target: str
) -> None:
    page = await reader.read(f"{site.base_url}/redirect?to={target}")
    assert page == PageRefused(target, NOT_PUBLIC)
    assert [entry.path for entry in site.served] == ["/redirect"]


async def test_a_redirect_to_localhost_on_another_port_never_reaches_it(
    site: WebPagesStandIn, other_site: WebPagesStandIn, reader: PageReader
) -> None:
    target = f"http://localhost:{other_site.port}/plain"
    page = await reader.read(f"{site.base_url}/redirect?to={target}")
    assert page == PageRefused(target, NOT_PUBLIC)
    direct = await reader.read(f"http://127.0.0.1:{other_site.port}/plain")
    assert direct == PageRefused(f"http://127.0.0.1:{other_site.port}/plain", NOT_PUBLIC)
    assert other_site.served == []


async def test_the_vetted_resolver_refuses_a_name_for_loopback_unless_allowed(
    site: WebPagesStandIn,
) -> None:
    with pytest.raises(AddressRefused):
        await VettedResolver().resolve("localhost", site.port)
    allowed = await VettedResolver({("localhost", site.port)}).resolve("localhost", site.port)
    assert {ipaddress.ip_address(r["host"]).is_loopback for r in allowed} == {True}


async def test_a_redirect_loop_stops_at_the_redirect_bound(
    site: WebPagesStandIn, reader: PageReader
) -> None:
    page = await reader.read(f"{site.base_url}/loop/a")
    assert isinstance(page, PageRefused)
    assert page.reason == f"the page redirects more than {LIMITS.max_redirects} times"
    assert len(site.served) == LIMITS.max_redirects + 1


@pytest.mark.parametrize(("url", "reason"), [
    ("ftp://127.0.0.1/file", "only http and https web pages can be read"),
    ("file:///etc/passwd", "only http and https web pages can be read"),
    ("javascript:alert(1)", "only http and https web pages can be read"),
    ("http://user:secret@{host}/plain", "web addresses with a user name or password are not read"),
])
async def test_other_schemes_and_credentials_are_refused_unrequested(
    site: WebPagesStandIn, reader: PageReader, url: str, reason: str
) -> None:
    page = await reader.read(url.format(host=f"127.0.0.1:{site.port}"))
    assert isinstance(page, PageRefused) and page.reason == reason
    assert site.served == []


async def test_an_oversized_page_is_read_only_up_to_the_byte_cap(
    site: WebPagesStandIn, reader: PageReader
) -> None:
    page = await reader.read(f"{site.base_url}/big")
    assert isinstance(page, PageText) and page.truncated
    assert ARTICLE_TEXT in page.text
    assert reader.bytes_read == LIMITS.max_bytes
    entry = await ended(site.served_at("/big")[0])
    assert entry.aborted and entry.bytes_written < site.big_size // 4


async def test_a_page_that_never_finishes_is_given_up_at_the_time_limit(
    site: WebPagesStandIn, reader: PageReader
) -> None:
    page = await reader.read(f"{site.base_url}/slow")
    assert page == PageRefused(
        f"{site.base_url}/slow", f"the page did not load within {LIMITS.timeout:g} seconds"
    )
    assert (await ended(site.served_at("/slow")[0])).aborted


async def test_a_page_shorter_than_its_content_length_is_refused_not_trusted(
    site: WebPagesStandIn, reader: PageReader
) -> None:
    page = await reader.read(f"{site.base_url}/lying")
    assert page == PageRefused(
        f"{site.base_url}/lying", "the page's transfer broke off before its announced end"
    )
    assert reader.bytes_read < LIMITS.max_bytes


METADATA = {"169.254.169.254", "fd00:ec2::254"}
NAT64 = ipaddress.ip_network("64:ff9b::/96")


def public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """The documented rule: global by ``ipaddress``, not multicast or reserved, not a
    cloud metadata endpoint."""
    return (address.is_global and not address.is_multicast and not address.is_reserved
            and str(address) not in METADATA)


v4s = st.integers(0, 2**32 - 1).map(ipaddress.IPv4Address)
v6s = st.integers(0, 2**128 - 1).map(ipaddress.IPv6Address)


@given(st.one_of(v4s, v6s))
def test_an_address_is_allowed_exactly_when_it_is_public(
    address: ipaddress.IPv4Address | ipaddress.IPv6Address,
) -> None:
    if isinstance(address, ipaddress.IPv6Address) and (
        address.ipv4_mapped or address.sixtofour or address in NAT64
    ):
        return  # covered by the next property
    assert address_allowed(address) == public(address)


@given(v4s, st.sampled_from(["mapped", "6to4", "nat64"]))
def test_an_ipv6_form_of_an_ipv4_address_is_never_more_allowed(
    inner: ipaddress.IPv4Address, form: str
) -> None:
    wrapped = ipaddress.IPv6Address({
        "mapped": (0xFFFF << 32) | int(inner),
        "6to4": (0x2002 << 112) | (int(inner) << 80),
        "nat64": int(NAT64.network_address) | int(inner),
    }[form])
    assert address_allowed(wrapped) <= public(inner)
    assert address_allowed(wrapped) == (public(wrapped) and public(inner))


@pytest.mark.parametrize(("text", "allowed"), [
    ("8.8.8.8", True), ("2606:4700:4700::1111", True), ("10.0.0.1", False),
    ("127.0.0.1", False), ("169.254.169.254", False), ("100.64.0.1", False),
    ("0.0.0.0", False), ("224.0.0.1", False), ("239.1.2.3", False), ("255.255.255.255", False),
    ("::1", False), ("::", False), ("fe80::1", False), ("fc00::1", False),
    ("fd00:ec2::254", False), ("ff0e::1", False), ("::ffff:127.0.0.1", False),
    ("2002:a00:1::", False), ("2002:a9fe:a9fe::", False), ("64:ff9b::a9fe:a9fe", False),
])
def test_named_addresses(text: str, allowed: bool) -> None:
    assert address_allowed(ipaddress.ip_address(text)) is allowed
