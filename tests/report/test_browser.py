"""The published HTML report opens in headless Chromium: headings present, every image loaded,
no error text. CI installs Debian's chromium and chromium-driver (see .ci/run) and sets
NARAVARD_REQUIRE_BROWSER=1 so that a missing browser fails instead of skipping."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
ARTEFACTS = Path(os.environ.get("NARAVARD_TEST_ARTEFACTS", Path(__file__).resolve().parents[2] / "outputs" / "test-artefacts"))


@pytest.fixture(scope="module")
def browser():
    if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
        if os.environ.get("NARAVARD_REQUIRE_BROWSER") == "1":
            pytest.fail("chromium/chromedriver not installed but NARAVARD_REQUIRE_BROWSER=1")
        pytest.skip("headless Chromium not installed (apt-get install chromium chromium-driver)")
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = CHROMIUM
    for arg in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--window-size=1200,2400"]:
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    yield driver
    driver.quit()


def test_html_report_renders(browser, regional_report_run):
    summary, out = regional_report_run
    html = out / "14" / "report.html"
    browser.get(html.resolve().as_uri())
    headings = [h.text for h in browser.find_elements("css selector", "h1, h2")]
    assert headings[0] == "Nära vård i Västra Götaland"
    for expected in ["Kontinuitet i primärvården", "Fast läkarkontakt", "Undvikbar slutenvård",
                     "Återinskrivning inom 30 dagar, 65 år och äldre",
                     "Akutbesök, 80 år och äldre", "Avbruten tidsserie: oplanerad slutenvård",
                     "Mobila team: vad förändras egentligen?"]:
        assert expected in headings
    images = browser.execute_script(
        "return Array.from(document.images).map(i => [i.complete, i.naturalWidth])"
    )
    assert len(images) >= 7
    assert all(done and width > 0 for done, width in images), images
    body = browser.find_element("tag name", "body").text
    for bad in ["Traceback", "Error", "Exception", "NaN"]:
        assert bad not in body
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    assert browser.save_screenshot(str(ARTEFACTS / "regional_report_14.png"))
