"""doctor's Greenflash product check reads every page of ``products.list``.

Greenflash pages products at most 100 at a time (``page_size``: "default 50, max 100", in
the SDK's ``resources/products.py``), so a workspace with more products than that needs
more than one page, and a configured product on a later page must still be found.
"""

from __future__ import annotations

import math

from bot.cli.doctor import Status
from bot.config.products import ProductConfig
from tests.bot_harness import Stands
from tests.cli.test_doctor import run_checks

MAX_PAGE = 100


async def test_a_product_past_the_first_page_is_found(stands: Stands) -> None:
    total = MAX_PAGE + 50
    stands.greenflash.products = [{"id": f"prod-{n}", "name": f"Product {n}"}
                                  for n in range(total)]
    wanted = f"prod-{total - 1}"  # on the last page
    checks = await run_checks(stands, products=ProductConfig(default_product_id=wanted))
    assert checks[f"Greenflash product {wanted}"].status is Status.PASS
    assert f"({total} product(s) visible)" in checks["Greenflash key"].detail
    pages = stands.greenflash.accepted_for("/products")
    assert len(pages) == math.ceil(total / MAX_PAGE)
    assert [int(float(page.query["page"])) for page in pages] == [1, 2]


async def test_an_exact_multiple_of_the_page_size_ends_on_an_empty_page(stands: Stands) -> None:
    total = MAX_PAGE
    stands.greenflash.products = [{"id": f"prod-{n}", "name": f"Product {n}"}
                                  for n in range(total)]
    checks = await run_checks(stands, products=ProductConfig(default_product_id="prod-missing"))
    assert checks["Greenflash product prod-missing"].status is Status.FAIL
    assert f"({total} product(s) visible)" in checks["Greenflash key"].detail
    assert len(stands.greenflash.accepted_for("/products")) == 2  # full page, then empty
