"""Small documents of each kind, made in the tests: a PDF written with pypdf, an HTML page
with the navigation, script and footer noise real pages have."""

from __future__ import annotations

import io

import pypdf
from pypdf.generic import ContentStream, DictionaryObject, NameObject


def make_pdf(pages: list[list[str]], *, password: str | None = None) -> bytes:
    """A PDF whose pages show these lines in Helvetica (ASCII without parentheses)."""
    writer = pypdf.PdfWriter()
    font = DictionaryObject(
        {
            NameObject("/Type"): NameObject("/Font"),
            NameObject("/Subtype"): NameObject("/Type1"),
            NameObject("/BaseFont"): NameObject("/Helvetica"),
        }
    )
    for lines in pages:
        page = writer.add_blank_page(612, 792)
        page[NameObject("/Resources")] = DictionaryObject(
            {NameObject("/Font"): DictionaryObject({NameObject("/F1"): font})}
        )
        shown = " ".join(f"({line}) Tj T*" for line in lines)
        content = ContentStream(None, None)
        content.set_data(f"BT /F1 12 Tf 72 720 Td 14 TL {shown} ET".encode())
        page.replace_contents(content)
    if password is not None:
        writer.encrypt(password, algorithm="RC4-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


_POLICY = " ".join(["Refunds are issued to the original payment method within thirty days."] * 3)

NOISY_HTML = f"""<!doctype html>
<html><head><title>Refunds</title>
<script>var trackingPixel = "analyticsbeacon";</script><style>.nav {{ color: red }}</style>
</head><body>
<nav><ul><li><a href="/">Homepage</a></li><li><a href="/careers">Careers</a></li></ul></nav>
<main><article>
<h1>Refund policy</h1><p>{_POLICY}</p>
<h2>EU</h2><p>Customers in the EU have fourteen days to withdraw from a purchase.</p>
<p>{_POLICY}</p>
<table><tr><th>Plan</th><th>Days</th></tr><tr><td>Pro</td><td>45</td></tr></table>
</article></main>
<footer>Copyright cookiebanner</footer>
</body></html>
""".encode()
