"""The admin in a real browser: headless Chromium against the site in production mode.

A user made by `inv createsuperuser` logs in, the admin's stylesheet arrives, and an
entry added through the admin form (a POST with a CSRF token, through the published
port) shows in the list. The tests share one stack and one browser, in file order.
"""

import shutil
import uuid

import pytest

from .harness import REPO, skip_or_fail

pytestmark = pytest.mark.e2e

# Debian's chromium and chromium-driver; Selenium is handed both paths, so its
# Selenium Manager never looks for (or downloads) a browser of its own.
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync")
SCREENSHOT = REPO / "test-output" / "admin-entry-created.png"
USERNAME = "admin"
PASSWORD = f"browser-{uuid.uuid4().hex}"
ENTRY_TEXT = f"added in the admin {uuid.uuid4().hex[:8]}"
# Whether every stylesheet of the page arrived: its HTTP status (Resource Timing) and its rules.
STYLESHEETS = """
return Array.from(document.querySelectorAll('link[rel=stylesheet]')).map(function (link) {
    var timing = performance.getEntriesByName(link.href)[0];
    var rules = -1;
    try { rules = link.sheet ? link.sheet.cssRules.length : -1; } catch (e) {}
    return {href: link.href, status: timing ? timing.responseStatus : null, rules: rules};
});
"""


@pytest.fixture(scope="module")
def site(production_project):
    production_project.inv("createsuperuser", env={
        "DJANGO_SUPERUSER_USERNAME": USERNAME,
        "DJANGO_SUPERUSER_EMAIL": "admin@example.com",
        "DJANGO_SUPERUSER_PASSWORD": PASSWORD,
    })
    return production_project


@pytest.fixture(scope="module")
def browser():
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        skip_or_fail("Selenium", "the selenium package is not installed (pip install -r requirements-dev.txt)")
    chromium, chromedriver = shutil.which("chromium"), shutil.which("chromedriver")
    if not (chromium and chromedriver):
        skip_or_fail("Chromium", "chromium or chromedriver is not on PATH (Debian: apt-get install chromium chromium-driver)")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(executable_path=chromedriver))
    try:
        driver.set_window_size(1280, 900)
        driver.set_page_load_timeout(60)
        yield driver
    finally:
        driver.quit()


def page(driver, site, path: str) -> None:
    driver.get(site.base_url + path)


def wait_for(driver, css: str):
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    try:
        return WebDriverWait(driver, 30).until(expected_conditions.presence_of_element_located((By.CSS_SELECTOR, css)))
    except TimeoutException:
        body = driver.find_element(By.TAG_NAME, "body").text[:500]
        raise AssertionError(f"no {css!r} on {driver.current_url} ({driver.title!r}): {body}") from None


def test_the_admin_login_page_gets_its_stylesheets_with_http_200(browser, site, report):
    page(browser, site, "/admin/")
    assert "/admin/login/" in browser.current_url, "an anonymous visit must be sent to the login page"
    wait_for(browser, "#id_username")
    sheets = browser.execute_script(STYLESHEETS)
    assert sheets, "the admin login page links no stylesheet"
    for sheet in sheets:
        assert sheet["status"] == 200, f"{sheet['href']} answered {sheet['status']}"
        assert sheet["rules"] > 0, f"{sheet['href']} arrived but holds no CSS rules"
    assert any("/static/admin/css/base." in sheet["href"] for sheet in sheets), sheets
    report(f"{len(sheets)} admin stylesheets, all HTTP 200: " + ", ".join(s["href"].rsplit("/", 1)[1] for s in sheets))


def test_the_superuser_logs_in(browser, site):
    browser.find_element("id", "id_username").send_keys(USERNAME)
    browser.find_element("id", "id_password").send_keys(PASSWORD)
    browser.find_element("css selector", "input[type=submit]").click()
    wait_for(browser, "#user-tools")
    assert browser.current_url.rstrip("/").endswith("/admin"), browser.current_url
    assert USERNAME.upper() in browser.find_element("id", "user-tools").text.upper()


def test_an_entry_added_through_the_admin_form_is_listed(browser, site, report):
    page(browser, site, "/admin/guestbook/entry/add/")
    wait_for(browser, "#id_text").send_keys(ENTRY_TEXT)
    browser.find_element("css selector", "input[name=_save]").click()
    # A CSRF failure behind the published port would show Django's 403 page here instead.
    wait_for(browser, "#result_list")
    assert browser.current_url.endswith("/admin/guestbook/entry/"), browser.current_url
    assert "was added successfully" in browser.find_element("css selector", ".messagelist").text
    assert ENTRY_TEXT in browser.find_element("id", "result_list").text
    assert ENTRY_TEXT in site.get("/")[1], "the entry must be in the database the public page reads"

    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    assert browser.save_screenshot(str(SCREENSHOT))
    assert SCREENSHOT.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    report(f"screenshot of the listed entry: {SCREENSHOT}")
