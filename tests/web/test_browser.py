"""The explorer's page in a real browser: headless Debian chromium driven by selenium against a
uvicorn server on a free port (a thread of this process). Marked chromium: skipped, naming what
is missing, without chromium, chromedriver or selenium."""

from __future__ import annotations

import math
import re
import socket
import threading
import time

import numpy as np
import pytest

from convolve import viz
from convolve.data.model_inputs import input_spec, read_for_model
from tests.web.common import bundled_test_images, demo_model, write_png

pytestmark = pytest.mark.chromium

CHROME_OPTIONS = (
    "--headless --no-sandbox --disable-gpu --disable-background-networking --disable-component-update "
    "--disable-sync --no-first-run --window-size=1400,1000"
).split()


@pytest.fixture(scope="module")
def model():
    return demo_model()


@pytest.fixture(scope="module")
def server(model):
    """The explorer on 127.0.0.1 at a free port, served by uvicorn in a thread; its base URL."""
    import uvicorn

    from convolve.web import create_app

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = uvicorn.Config(
        create_app(model, max_upload_bytes=200_000), host="127.0.0.1", port=port, log_level="warning"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=30)


@pytest.fixture(scope="module")
def driver():
    from selenium import webdriver

    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for option in CHROME_OPTIONS:
        options.add_argument(option)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    browser = webdriver.Chrome(service=webdriver.ChromeService("/usr/bin/chromedriver"), options=options)
    yield browser
    browser.quit()


@pytest.fixture
def page(driver, server):
    """The page loaded afresh and drawn (window.explorerReady), the console emptied before the test
    and checked after it: no errors (a test may allow some by appending patterns to the list it gets)."""
    driver.get(server + "/")
    wait_for(driver, "window.explorerReady === true")
    driver.get_log("browser")
    allowed = []
    yield driver, allowed
    errors = [entry["message"] for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]
    assert [e for e in errors if not any(re.search(pattern, e) for pattern in allowed)] == []


def wait_for(driver, condition, timeout=20):
    """Wait until the JavaScript expression ``condition`` is true."""
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, timeout).until(lambda d: d.execute_script(f"return Boolean({condition})"))


def text(driver, element_id):
    return driver.execute_script(f"return document.getElementById('{element_id}').innerText")


def show_test_image(driver, index):
    """Choose test image ``index`` with the page's own number box and button; wait until it is drawn."""
    from selenium.webdriver.common.by import By

    driver.execute_script(f"document.getElementById('test-index').value = {index}")
    driver.find_element(By.ID, "test-show").click()
    wait_for(driver, f"document.getElementById('source').textContent.startsWith('test image {index} (')")


def top_line(model, x, class_names):
    probs = model.predict(x, verbose=0)[0]
    k = int(np.argmax(probs))
    return f"{class_names[k]} ({100 * probs[k]:.1f}%)"


def test_the_page_shows_every_layer_the_filters_and_the_prediction(page, model):
    driver, _ = page
    from selenium.webdriver.common.by import By

    x, y = bundled_test_images()
    for layer in model.layers:
        panels = driver.find_elements(By.CSS_SELECTOR, f'.layer[data-layer="{layer.name}"]')
        assert len(panels) == 1, layer.name
    maps = {
        layer.name: len(driver.find_elements(By.CSS_SELECTOR, f'.maps[data-layer="{layer.name}"] canvas'))
        for layer in model.layers
    }
    assert maps == {
        "conv2d": 8,
        "max_pooling2d": 8,
        "conv2d_1": 16,
        "max_pooling2d_1": 16,
        "flatten": 1,
        "dense": 1,
    }
    assert len(driver.find_elements(By.CSS_SELECTOR, "#filters canvas")) == 8
    assert len(driver.find_elements(By.CSS_SELECTOR, "#test-images canvas")) == 10
    assert text(driver, "source") == f"test image 0 ({model.class_names[y[0]]})"
    assert text(driver, "prediction").splitlines()[0] == top_line(model, x[:1], model.class_names)
    for name in model.class_names:
        assert name in text(driver, "prediction")
    wait_for(driver, "document.getElementById('grad-cam-layer').textContent.startsWith('of max_pooling2d_1')")
    assert driver.execute_script("return window.explorerTimings[0].what") == "test image"


def test_an_upload_changes_the_prediction(page, model, tmp_path):
    driver, _ = page
    from selenium.webdriver.common.by import By

    x, y = bundled_test_images()
    index = int(np.flatnonzero(y == 1)[0])  # a trouser: test image 0 is not one
    path = write_png(tmp_path / "trouser.png", x[index, :, :, 0])
    before = text(driver, "prediction")
    driver.find_element(By.ID, "upload").send_keys(str(path))
    wait_for(driver, "document.getElementById('source').textContent === 'upload'")
    after = text(driver, "prediction")
    assert after != before
    expected = read_for_model(str(path), input_spec(model))
    assert after.splitlines()[0] == top_line(model, expected, model.class_names)
    assert driver.execute_script("return window.explorerTimings.at(-1).what") == "upload"


@pytest.mark.parametrize(
    "layer, channel, offset",
    [
        ("conv2d", 2, (13, -20)),
        ("conv2d_1", 7, (-9, 4)),
        ("max_pooling2d", 0, (0, 0)),
        ("dense", None, (25, 0)),
    ],
)
def test_clicking_a_value_shows_its_arithmetic_and_receptive_field(page, model, layer, channel, offset):
    driver, _ = page
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    x, _ = bundled_test_images()
    show_test_image(driver, 17)
    selector = f'.maps[data-layer="{layer}"] canvas'
    selector += "" if channel is None else f'[data-channel="{channel}"]'
    canvas = driver.find_element(By.CSS_SELECTOR, selector)
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", canvas)
    ActionChains(driver).move_to_element_with_offset(canvas, *offset).click().perform()
    wait_for(driver, f"document.getElementById('explain').dataset.layer === '{layer}'")
    explain = driver.find_element(By.ID, "explain")
    box = driver.execute_script(
        "const r = arguments[0].getBoundingClientRect(); return [r.width, r.height];", canvas
    )
    size = driver.execute_script("return [arguments[0].width, arguments[0].height]", canvas)
    col = math.floor((box[0] / 2 + offset[0]) / box[0] * size[0])
    row = math.floor((box[1] / 2 + offset[1]) / box[1] * size[1])
    output = viz.feature_maps(model, x[17:18], layers=[layer])[layer][0]
    if channel is None:  # a Dense: its units drawn in rows of 40
        unit = row * size[0] + col
        assert explain.get_attribute("data-channel") == str(unit)
        assert explain.get_attribute("data-position") == ""
        expected = output[unit]
    else:
        assert explain.get_attribute("data-position") == f"{row},{col}"
        assert explain.get_attribute("data-channel") == str(channel)
        expected = output[row, col, channel]
    shown = text(driver, "explain")
    value = float(driver.find_element(By.ID, "explain-value").text)
    assert f"= {driver.find_element(By.ID, 'explain-value').text}" in shown
    assert value == pytest.approx(float(expected), rel=1e-5, abs=1e-7)
    unit = viz.explain_unit(
        model,
        x[17],
        layer,
        position=None if channel is None else (row, col),
        channel=unit if channel is None else channel,
        print_fn=None,
    )
    (r0, r1), (c0, c1) = unit.receptive_field
    # the overlay (10 pixels per input pixel) is red on the box's edge, clear outside it
    red = driver.execute_script(
        "const c = document.getElementById('field-overlay'); const d = c.getContext('2d');"
        "return [d.getImageData(arguments[0], arguments[1], 1, 1).data[0],"
        "        d.getImageData(arguments[2], arguments[3], 1, 1).data[3]];",
        c0 * 10 + 2,
        (r0 + r1) * 5,
        max(c0 * 10 - 5, 0),
        max(r0 * 10 - 5, 0),
    )
    assert red[0] > 200
    if r0 > 0 and c0 > 0:
        assert red[1] == 0
    if layer.startswith("conv"):
        assert "patch" in shown and "kernel" in shown and "products" in shown and "bias" in shown


def test_a_bad_upload_shows_its_message_and_the_page_goes_on(page, model, tmp_path):
    driver, allowed = page
    from selenium.webdriver.common.by import By

    allowed.append(r"status of 41[35]")  # the browser logs the refused requests themselves
    bad = tmp_path / "notes.txt"
    bad.write_text("not an image")
    driver.find_element(By.ID, "upload").send_keys(str(bad))
    wait_for(driver, "!document.getElementById('message').hidden")
    assert "not an image" in text(driver, "message") and "(HTTP 415)" in text(driver, "message")
    big = tmp_path / "big.png"
    noise = np.random.default_rng(0).random((700, 700))  # about 490 kB of PNG
    write_png(big, noise)
    driver.find_element(By.ID, "upload").send_keys(str(big))
    wait_for(driver, "document.getElementById('message').textContent.includes('413')")
    assert "larger than the limit of 200,000 bytes" in text(driver, "message")
    x, _ = bundled_test_images()
    good = write_png(tmp_path / "good.png", x[5, :, :, 0])
    driver.find_element(By.ID, "upload").send_keys(str(good))
    wait_for(driver, "document.getElementById('message').hidden")
    expected = read_for_model(str(good), input_spec(model))
    assert text(driver, "prediction").splitlines()[0] == top_line(model, expected, model.class_names)


def test_a_drawn_stroke_is_predicted(page):
    driver, _ = page
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    canvas = driver.find_element(By.ID, "draw")
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", canvas)
    ActionChains(driver).move_to_element_with_offset(canvas, -30, -40).click_and_hold().move_by_offset(
        10, 30
    ).move_by_offset(10, 30).move_by_offset(10, 20).release().perform()
    wait_for(driver, "document.getElementById('source').textContent === 'drawing'")
    pixels = driver.execute_script(
        "const c = document.getElementById('input-image');"
        "return Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data)"
    )
    red = pixels[0::4]
    assert len(red) == 28 * 28 and max(red) > 100 and min(red) == 0  # white strokes on black
    assert driver.execute_script("return window.explorerTimings.at(-1).what") == "drawing"


def test_the_page_loads_nothing_from_outside_the_server(page, server):
    driver, _ = page
    urls = driver.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name)"
        ".concat([...document.querySelectorAll('[src],[href]')].map(e => e.src || e.href))"
    )
    assert urls and all(url.startswith(server + "/") or url.startswith("data:") for url in urls), urls
