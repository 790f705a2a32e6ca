"""The web page in a real browser: headless Chromium (Debian's package) driven by Selenium,
loaded during a simulated run. The spectrum count rises on the page; Pause asks for the token
and the run pauses. Screenshots go to $STM_ANDREEV_SCREENSHOT_DIR (docs/screenshots/ when made
for the docs) or the test's tmp dir.

Skipped only when Chromium, chromedriver or Selenium is missing outside CI; in CI (``CI`` or
``STM_ANDREEV_REQUIRE_BROWSER`` set, as .ci/run does) their absence fails the test.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest

from .serving import TOKEN, Served, sweep_plan

pytestmark = pytest.mark.slow

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
#: Bound on the page's waits (wall s): the browser and the run share a loaded machine.
PAGE_WAIT_S = 60.0


def _browser(width: int, height: int):
    missing = []
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        missing.append("pip selenium")
    if not CHROMIUM:
        missing.append("apt chromium")
    if not CHROMEDRIVER:
        missing.append("apt chromium-driver")
    if missing:
        if os.environ.get("CI") or os.environ.get("STM_ANDREEV_REQUIRE_BROWSER"):
            pytest.fail(f"browser test needs {', '.join(missing)} in CI")
        pytest.skip(f"no {', '.join(missing)}")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                f"--window-size={width},{height}", "--hide-scrollbars"):
        options.add_argument(arg)
    return webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)


def _wait(driver, condition, what: str):
    deadline = time.monotonic() + PAGE_WAIT_S
    while True:
        value = condition(driver)
        if value:
            return value
        if time.monotonic() > deadline:
            driver.save_screenshot(str(Path(os.environ.get("TMPDIR", "/tmp")) / "failed.png"))
            raise AssertionError(f"page: timed out waiting for {what}")
        time.sleep(0.05)


def _count(driver) -> int:
    from selenium.webdriver.common.by import By

    text = driver.find_element(By.ID, "count").text
    return int(text) if text.isdigit() else -1


def _shots_dir(tmp_path: Path) -> Path:
    where = Path(os.environ.get("STM_ANDREEV_SCREENSHOT_DIR") or tmp_path)
    where.mkdir(parents=True, exist_ok=True)
    return where


def test_page_follows_a_run_and_pauses_it(tmp_path):
    from selenium.webdriver.common.by import By

    driver = _browser(1280, 1000)
    served = Served(tmp_path).start()
    try:
        served.post("/api/queue", {"plan_text": sweep_plan("page-test", n=250, n_bias=401)})
        served.wait_for(lambda s: s["run"].get("done", 0) >= 1, "the first spectrum")
        driver.get(served.url + "/")
        _wait(driver, lambda d: _count(d) >= 1, "the spectrum count")
        first = _count(driver)
        _wait(driver, lambda d: _count(d) > first, "the spectrum count to rise")
        polyline = driver.find_element(By.CSS_SELECTOR, "#spectrum-plot polyline")
        assert len(polyline.get_attribute("points").split()) == 401
        assert driver.find_elements(By.CSS_SELECTOR, "#series-plot polyline")
        assert "page-test" in driver.find_element(By.ID, "queue").text

        driver.find_element(By.ID, "pause").click()
        prompt = _wait(driver, _alert, "the token prompt")
        assert "token" in prompt.text.lower()
        prompt.send_keys(TOKEN)
        prompt.accept()
        _wait(driver, lambda d: d.find_element(By.ID, "status").text == "paused",
              "the page to show the pause")
        status = served.get("/api/status")
        assert status["run"]["status"] == "paused"
        paused_at = status["run"]["done"]
        assert paused_at < 250
        assert "pause sent" in driver.find_element(By.ID, "command-reply").text
        shots = _shots_dir(tmp_path)
        driver.save_screenshot(str(shots / "service-page.png"))
        driver.set_window_size(412, 1900)  # a phone's width, whole page
        time.sleep(0.3)  # let the layout settle before the picture (no state is waited on)
        driver.save_screenshot(str(shots / "service-page-phone.png"))
        # No horizontal scrolling on a phone.
        assert driver.execute_script(
            "return document.documentElement.scrollWidth <= window.innerWidth + 1")
        served.post("/api/run/abort")
        served.wait_for(lambda s: s["queue_counts"].get("aborted") == 1, "the abort")
    finally:
        driver.quit()
        served.stop()


def _alert(driver):
    from selenium.common.exceptions import NoAlertPresentException

    try:
        alert = driver.switch_to.alert
        alert.text  # noqa: B018 - raises when there is none yet
        return alert
    except NoAlertPresentException:
        return None


def test_page_ends_showing_the_runs_last_spectrum_every_row_and_every_event(tmp_path):
    """The page draws only what changed, once per frame: at the end of a run watched from its
    start it still shows the newest spectrum (its row, every point of its curve), a series
    point for every spectrum and the same event log as the status."""
    from selenium.webdriver.common.by import By

    n, n_bias = 12, 101
    driver = _browser(1280, 1000)
    served = Served(tmp_path).start()
    try:
        driver.get(served.url + "/")
        _wait(driver, lambda d: d.find_element(By.ID, "conn").text == "live", "the stream")
        served.post("/api/queue", {"plan_text": sweep_plan("page-end", n=n, n_bias=n_bias)})
        served.wait_for(lambda s: s["queue_counts"] == {"finished": 1}, "the run's end")
        _wait(driver, lambda d: d.find_element(By.ID, "status").text == "finished",
              "the page to show the end")
        _wait(driver, lambda d: _count(d) == n, "the last spectrum's count")
        spectrum = served.get("/api/spectrum")
        assert spectrum["row"] == n - 1
        _wait(driver, lambda d: d.find_element(By.ID, "spectrum-label").text.startswith(
            f"#{n - 1} "), "the last spectrum's label")
        points = driver.find_element(By.CSS_SELECTOR, "#spectrum-plot polyline") \
            .get_attribute("points").split()
        assert len(points) == n_bias
        # The curve drawn is this spectrum's: its y pixels order as G does.
        ys = [float(p.split(",")[1]) for p in points]
        g = spectrum["G_G0"]
        assert ys[g.index(max(g))] == min(ys)  # SVG y grows downwards
        assert ys[g.index(min(g))] == max(ys)
        series = driver.find_elements(By.CSS_SELECTOR, "#series-plot polyline")
        assert [len(s.get_attribute("points").split()) for s in series] == [n, n]
        status = served.get("/api/status")
        shown = [li.text for li in driver.find_elements(By.CSS_SELECTOR, "#events li")]
        assert len(shown) == len(status["run"]["events"])
        assert status["run"]["events"][-1]["message"] in shown[0]  # newest first
        bar = driver.execute_script("return document.getElementById('bar').style.width")
        assert bar == "100%"
    finally:
        driver.quit()
        served.stop()
