"""The search page in a real Chromium (Playwright) against a real waitress server over ``own_index`` (tests/_corpus.py plus the sample).

Needs Debian's ``/usr/bin/chromium`` (``apt-get install chromium fonts-wqy-microhei``);
without it these tests skip, except under ``CI=true`` where they fail.
A screenshot of a results page is saved to ``artifacts/results.png``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from indexer.matchtext import normal_form

from tests.conftest import serving

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "artifacts"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]
TIMEOUT_MS = 15_000


def _require_chromium() -> None:
    if not CHROMIUM.exists():
        reason = f"{CHROMIUM} not found: apt-get install -y chromium fonts-wqy-microhei"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)


@pytest.fixture(scope="module")
def base_url(own_index: Path) -> Iterator[str]:
    # ``serving`` closes the open keep-alive channels from inside the server's loop thread: closing the
    # server from this thread raced the loop's ``select`` (EBADF in the waitress thread at teardown).
    with serving(own_index) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    _require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture()
def page(browser: Any, base_url: str) -> Iterator[Any]:
    context = browser.new_context(base_url=base_url, viewport={"width": 1280, "height": 900}, locale="zh-CN")
    context.set_default_timeout(TIMEOUT_MS)
    tab = context.new_page()
    problems: list[str] = []
    tab.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)
    tab.on("pageerror", lambda exc: problems.append(str(exc)))
    try:
        yield tab
        assert problems == [], problems  # CSP violations and script errors show up here
    finally:
        context.close()


def search_for(page: Any, text: str) -> None:
    page.goto("/")
    box = page.locator("#q")
    assert box.evaluate("el => el === document.activeElement")  # autofocus
    box.fill(text)
    with page.expect_navigation():
        box.press("Enter")


def test_search_shows_highlighted_results(page: Any) -> None:
    search_for(page, "经济 合作")
    assert re.search(r"[?&]q=%E7%BB%8F%E6%B5%8E", page.url)
    assert page.locator("#q").input_value() == "经济 合作"
    assert page.locator("li.hit").count() == 10
    assert page.locator("li.hit mark").count() >= 10
    marks = page.locator("li.hit mark").all_inner_texts()
    assert all(re.fullmatch("(经济|合作)+", normal_form(m)) for m in marks), marks  # 經濟 too; adjacent ones merge
    assert re.search(r"[\d,]+ 篇包含全部检索词", page.locator(".stats").inner_text())
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "results.png"))


def test_partial_matches_follow_a_visible_divider(page: Any) -> None:
    search_for(page, "齐齐哈尔 量子引力")
    stats = page.locator(".stats").inner_text()
    assert stats.startswith("没有文章包含全部检索词")
    assert page.locator(".notice.relaxed").is_visible()
    search_for(page, "齐齐哈尔 对口合作")
    exact = int(page.locator(".stats strong").inner_text().replace(",", ""))
    assert 0 < exact < 10 and "部分匹配" in page.locator(".stats").inner_text()
    assert not page.locator(".notice.relaxed").count()
    divider = page.locator("li.tier-divider.tier-partial")
    assert divider.is_visible() and "不包含全部检索词" in divider.inner_text()
    # The divider sits right after the hits that hold both words, as the JSON twin says.
    above = page.locator("ol.hits > li").evaluate_all(
        "els => els.slice(0, els.findIndex(e => e.classList.contains('tier-divider'))).map(e => e.innerText)")
    data = page.request.get(page.locator("a.json-link").get_attribute("href")).json()
    exact_titles = [h["title"] for h in data["hits"] if h["match"] == "exact"]
    assert len(above) == len(exact_titles) > 0
    assert all(text.startswith(title) for text, title in zip(above, exact_titles))
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "tiers.png"), full_page=True)


def test_page_forward(page: Any) -> None:
    search_for(page, "经济")
    first = page.locator(".hit-title a").all_inner_texts()
    with page.expect_navigation():
        page.locator(".pager a[rel=next]").click()
    assert "page=2" in page.url
    assert page.locator(".pager .current").inner_text() == "2"
    second = page.locator(".hit-title a").all_inner_texts()
    assert len(second) == 10 and set(first).isdisjoint(second)


def test_year_facet_filters(page: Any) -> None:
    search_for(page, "合作")
    total_before = page.locator(".stats strong").inner_text()
    year_link = page.locator(".facet", has_text="年份").locator("a.facet-link").first
    year = year_link.locator(".facet-value").inner_text()
    with page.expect_navigation():
        year_link.click()
    assert f"year={year}" in page.url
    assert page.locator(".chip").inner_text().startswith(f"年份：{year}")
    assert page.locator(".stats strong").inner_text() != total_before
    dates = page.locator("li.hit time").all_inner_texts()
    assert dates and all(d.startswith(year) for d in dates)


def test_open_article_with_highlights(page: Any) -> None:
    search_for(page, "齐齐哈尔 对口合作")
    title = page.locator(".hit-title a").first
    with page.expect_navigation():
        title.click()
    assert "/article/" in page.url and "q=" in page.url
    assert page.locator("h1.article-title").is_visible()
    marks = page.locator(".article-body mark").all_inner_texts()
    assert marks and set(marks) & {"齐齐哈尔", "对口合作", "对口", "合作"}
    assert page.locator(".related-list li").count() >= 1
    assert page.locator("a.json-link").get_attribute("href").startswith("/api/article/")


@pytest.mark.parametrize("prefix", ["hezuo", "合作"])
def test_autocomplete_by_keyboard(page: Any, prefix: str) -> None:
    page.goto("/")
    box = page.locator("#q")
    box.press_sequentially(prefix, delay=40)
    options = page.locator("#q-suggestions [role=option]")
    options.first.wait_for(state="visible")
    assert box.get_attribute("aria-expanded") == "true"
    box.press("ArrowDown")
    chosen = options.first
    assert chosen.get_attribute("aria-selected") == "true"
    assert box.get_attribute("aria-activedescendant") == chosen.get_attribute("id")
    term = chosen.inner_text()
    assert "合作" in term
    with page.expect_navigation():
        box.press("Enter")
    assert page.locator("#q").input_value() == term
    assert page.locator("li.hit").count() > 0


def test_autocomplete_arrows_and_escape(page: Any) -> None:
    page.goto("/")
    box = page.locator("#q")
    box.press_sequentially("jingji", delay=40)
    listbox = page.locator("#q-suggestions")
    listbox.locator("[role=option]").first.wait_for(state="visible")
    count = listbox.locator("[role=option]").count()
    box.press("ArrowUp")  # wraps to the last option
    assert listbox.locator("[role=option]").nth(count - 1).get_attribute("aria-selected") == "true"
    box.press("Escape")
    assert listbox.is_hidden()
    assert box.get_attribute("aria-expanded") == "false"
    assert box.input_value() == "jingji"


def test_narrow_screen_layout(browser: Any, base_url: str) -> None:
    context = browser.new_context(base_url=base_url, viewport={"width": 390, "height": 844}, locale="zh-CN")
    try:
        tab = context.new_page()
        tab.goto("/?q=" + "佳木斯 经济")
        width = tab.evaluate("document.documentElement.scrollWidth")
        assert width <= 390
        ARTIFACTS.mkdir(exist_ok=True)
        tab.screenshot(path=str(ARTIFACTS / "results-narrow.png"))
    finally:
        context.close()


@pytest.mark.parametrize("javascript", [True, False])
def test_custom_date_range(browser: Any, base_url: str, javascript: bool) -> None:
    context = browser.new_context(base_url=base_url, viewport={"width": 1280, "height": 900}, locale="zh-CN",
                                  java_script_enabled=javascript)
    try:
        tab = context.new_page()
        tab.goto("/?q=经济")
        control = tab.locator(".facet-date")
        assert control.locator("a.facet-link").all_inner_texts() == ["不限", "一天内", "一周内", "一月内", "一年内"]
        control.locator("summary", has_text="自定义").click()
        control.locator("input[name=date_from]").fill("2022-03-01")
        control.locator("input[name=date_to]").fill("2022-03-31")
        with tab.expect_navigation():
            control.locator("button", has_text="确定").click()
        assert "date_from=2022-03-01" in tab.url and "date_to=2022-03-31" in tab.url and "q=" in tab.url
        assert tab.locator(".chip").inner_text().startswith("时间：2022-03-01 至 2022-03-31")
        dates = tab.locator("li.hit time").all_inner_texts()
        assert dates and all("2022-03-01" <= d <= "2022-03-31" for d in dates)
        assert tab.locator(".custom-range").get_attribute("open") is not None
        if javascript:
            ARTIFACTS.mkdir(exist_ok=True)
            tab.screenshot(path=str(ARTIFACTS / "results-date-range.png"))
        with tab.expect_navigation():
            tab.locator(".facet-date a.facet-link", has_text="一年内").click()
        assert "date_to" not in tab.url and tab.locator(".chip").inner_text().startswith("时间：一年内")
    finally:
        context.close()


def test_a_new_query_keeps_the_filters(page: Any) -> None:
    search_for(page, "合作")
    year_link = page.locator(".facet-year a.facet-link").first
    year = year_link.locator(".facet-value").inner_text()
    with page.expect_navigation():
        year_link.click()
    box = page.locator("#q")
    box.fill("经济")
    with page.expect_navigation():
        box.press("Enter")
    assert f"year={year}" in page.url and "q=%E7%BB%8F%E6%B5%8E" in page.url
    assert page.locator(".chip").inner_text().startswith(f"年份：{year}")
    assert page.locator(".kept-note").is_visible()
    with page.expect_navigation():
        page.locator("a.chip-clear").click()
    assert "year=" not in page.url and page.locator(".chip").count() == 0
    assert page.locator("#q").input_value() == "经济"


def test_search_within_results(page: Any) -> None:
    search_for(page, "经济")
    total = int(page.locator(".stats strong").inner_text().replace(",", ""))
    within = page.locator("#within")
    within.fill("合作")
    with page.expect_navigation():
        within.press("Enter")
    assert page.locator("#q").input_value() == "经济 合作"
    assert int(page.locator(".stats strong").inner_text().replace(",", "")) < total


def test_results_page_links_its_feed(page: Any) -> None:
    import feedparser

    search_for(page, "经济")
    href = page.locator('link[rel=alternate][type="application/atom+xml"]').get_attribute("href")
    assert href == page.locator("a.feed-link").get_attribute("href") and href.startswith("/feed.atom?q=")
    feed = feedparser.parse(page.request.get(href).body())
    assert not feed.bozo and feed.version == "atom10" and len(feed.entries) == 20
    dates = [e.published for e in feed.entries]
    assert dates == sorted(dates, reverse=True)
    json_href = page.locator('link[rel=alternate][type="application/feed+json"]').get_attribute("href")
    items = page.request.get(json_href).json()["items"]
    assert [i["id"] for i in items] == [e.id for e in feed.entries]


def test_slash_focuses_the_box_with_the_cursor_at_the_end(page: Any) -> None:
    search_for(page, "经济 合作")
    box = page.locator("#q")
    assert not box.evaluate("el => el === document.activeElement")  # Space scrolls a results page
    page.keyboard.press("/")
    assert box.evaluate("el => el === document.activeElement")
    assert box.evaluate("el => [el.selectionStart, el.selectionEnd]") == [5, 5]
    page.keyboard.type(" 北京")
    assert box.input_value() == "经济 合作 北京"  # the "/" itself was not typed
    page.locator("#within").focus()
    page.keyboard.type("a/b")
    assert page.locator("#within").input_value() == "a/b"  # in another field "/" is text


def test_an_autofocused_box_has_the_cursor_after_the_query(browser: Any, base_url: str) -> None:
    context = browser.new_context(base_url=base_url, locale="zh-CN")
    try:
        tab = context.new_page()
        response = tab.goto("/?q=" + "经济 合作&year=abc")  # the 400 page autofocuses its box
        assert response.status == 400
        box = tab.locator("#q")
        assert box.input_value() == "经济 合作"
        assert box.evaluate("el => el === document.activeElement && el.selectionStart === el.value.length")
    finally:
        context.close()


def _luminance(rgb: str) -> float:
    r, g, b = (int(v) for v in re.findall(r"\d+", rgb)[:3])
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def test_dark_mode_follows_the_system(browser: Any, base_url: str) -> None:
    context = browser.new_context(base_url=base_url, viewport={"width": 1280, "height": 900}, locale="zh-CN",
                                  color_scheme="dark")
    try:
        tab = context.new_page()
        tab.goto("/?q=" + "经济 合作")
        style = "sel => getComputedStyle(document.querySelector(sel))"
        assert _luminance(tab.evaluate(f"({style})('body').backgroundColor")) < 40
        assert _luminance(tab.evaluate(f"({style})('li.hit').backgroundColor")) < 50
        assert _luminance(tab.evaluate(f"({style})('.hit-title a').color")) > 120
        assert _luminance(tab.evaluate(f"({style})('.snippet').color")) > 150
        ARTIFACTS.mkdir(exist_ok=True)
        tab.screenshot(path=str(ARTIFACTS / "results-dark.png"))
        tab.goto("/")
        assert _luminance(tab.evaluate(f"({style})('body').backgroundColor")) < 40
    finally:
        context.close()


def test_print_shows_only_the_results(page: Any) -> None:
    search_for(page, "经济 合作")
    page.emulate_media(media="print")
    for selector in (".topbar", ".facets", ".pager", ".footer", ".sort"):
        assert page.locator(selector).is_hidden(), selector
    assert page.locator("li.hit").first.is_visible()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "results-print.png"))
    page.goto(page.locator(".hit-title a").first.get_attribute("href"))
    assert page.locator(".article-body").is_visible() and page.locator(".related").is_hidden()


@pytest.mark.parametrize("javascript", [True, False])
def test_phone_layout_375(browser: Any, base_url: str, javascript: bool) -> None:
    context = browser.new_context(base_url=base_url, viewport={"width": 375, "height": 812}, locale="zh-CN",
                                  java_script_enabled=javascript, is_mobile=True, has_touch=True)
    try:
        tab = context.new_page()
        tab.goto("/?q=" + "佳木斯 经济")
        assert tab.evaluate("document.documentElement.scrollWidth") <= 375
        panel = tab.locator("details.refine")
        toggle = panel.locator("summary.refine-toggle")
        first_hit = tab.locator("li.hit").first
        assert toggle.is_visible() and toggle.bounding_box()["y"] < first_hit.bounding_box()["y"]
        year = panel.locator(".facet-year a.facet-link").first
        if javascript:  # closed until tapped; without JavaScript it stays open
            assert panel.get_attribute("open") is None and year.is_hidden()
            ARTIFACTS.mkdir(exist_ok=True)
            tab.screenshot(path=str(ARTIFACTS / "results-phone.png"))
            toggle.tap()
        assert year.is_visible()
        if javascript:
            tab.screenshot(path=str(ARTIFACTS / "results-phone-filters.png"))
        with tab.expect_navigation():
            year.tap()
        assert "year=" in tab.url and "已选 1 项" in toggle.inner_text()
        with tab.expect_navigation():
            tab.locator(".hit-title a").first.tap()
        label = tab.locator(".article-meta dt", has_text="原文")
        assert label.count() == 1  # the generated articles link their original
        lines = "el => { const r = document.createRange(); r.selectNodeContents(el); return r.getClientRects().length; }"
        assert label.evaluate(lines) == 1  # 原文 on one line (it was 原 above 文, squeezed by the URL)
        assert tab.evaluate("document.documentElement.scrollWidth") <= 375
        if javascript:
            tab.screenshot(path=str(ARTIFACTS / "article-phone.png"))
    finally:
        context.close()
