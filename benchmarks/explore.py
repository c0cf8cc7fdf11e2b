"""The explorer's speed, as a user meets it: ``convolve explore`` (the real command, in its own
process) with the demo's model, driven by headless chromium through selenium.

    python benchmarks/explore.py                        # trains the demo model into a temp folder
    python benchmarks/explore.py --model convolve-demo/model.safetensors --repeat 20
    python benchmarks/explore.py --model M --screenshot docs/images/explorer.png

Measures (targets from issue #13):

* interactive: from navigation to the first prediction and feature maps drawn (the page's
  performance mark 'explorer-ready', milliseconds since navigation start). Target < 2 s.
* update: from the user's action to the prediction and every feature map drawn again, as the page
  records it in ``window.explorerTimings`` (an upload chosen in the file input; a stroke on the
  drawing canvas finished, its PNG made in the browser included). Target < 300 ms.
* Grad-CAM: the server's own time for one image's Grad-CAM (``server_ms`` of the endpoint, for
  images it has not computed before), and the HTTP round trip around it. Target < 100 ms.

Needs chromium and chromedriver on PATH and ``pip install selenium "convolve[web]"``. The
figures belong in benchmarks/README.md, with the CPU and the load printed here.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

CHROME_OPTIONS = (
    "--headless --no-sandbox --disable-gpu --disable-background-networking --disable-component-update "
    "--disable-sync --no-first-run"
).split()


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def demo_model(folder):
    """Train the demo's model with ``convolve demo`` into ``folder``; its path."""
    subprocess.run(
        [sys.executable, "-m", "convolve", "demo", "--out", str(folder)],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return Path(folder) / "model.safetensors"


def start_server(model, port):
    """``convolve explore MODEL --port P --no-browser`` in its own process, once it answers."""
    process = subprocess.Popen(
        [sys.executable, "-m", "convolve", "explore", str(model), "--port", str(port), "--no-browser"],
        stdout=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/model", timeout=1).read()
            return process
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise RuntimeError("convolve explore did not start") from None
            time.sleep(0.05)


def browser(width=1400, height=1000):
    from selenium import webdriver

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    for option in CHROME_OPTIONS + [f"--window-size={width},{height}"]:
        options.add_argument(option)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = webdriver.ChromeService(shutil.which("chromedriver") or "/usr/bin/chromedriver")
    return webdriver.Chrome(service=service, options=options)


def wait_for(driver, condition, timeout=30):
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, timeout, poll_frequency=0.005).until(
        lambda d: d.execute_script(f"return Boolean({condition})")
    )


def load(driver, url):
    driver.get(url)
    wait_for(driver, "window.explorerReady === true")
    return driver.execute_script("return performance.getEntriesByName('explorer-ready')[0].startTime")


def test_pngs(folder, count):
    """PNG files of ``count`` bundled Fashion-MNIST test images (distinct, so none is cached)."""
    import numpy as np
    from PIL import Image

    from convolve.datasets import fashion_mnist

    (_, _), (x, _) = fashion_mnist.load_subset()
    paths = []
    for i in range(count):
        path = Path(folder) / f"test_{i}.png"
        Image.fromarray(np.asarray(x[100 + i], dtype=np.uint8)).save(path)
        paths.append(path)
    return paths


def measure_updates(driver, paths):
    """ms from choosing each file to its maps drawn, then from each of as many strokes."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    uploads, strokes = [], []
    for path in paths:
        seen = driver.execute_script("return window.explorerTimings.length")
        driver.find_element(By.ID, "upload").send_keys(str(path))
        wait_for(driver, f"window.explorerTimings.length > {seen}")
        uploads.append(driver.execute_script("return window.explorerTimings.at(-1).ms"))
    canvas = driver.find_element(By.ID, "draw")
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", canvas)
    for k in range(len(paths)):
        seen = driver.execute_script("return window.explorerTimings.length")
        ActionChains(driver).move_to_element_with_offset(
            canvas, -40 + 4 * (k % 20), -40
        ).click_and_hold().move_by_offset(5, 40).move_by_offset(10, 30).release().perform()
        wait_for(driver, f"window.explorerTimings.length > {seen}")
        assert driver.execute_script("return window.explorerTimings.at(-1).what") == "drawing"
        strokes.append(driver.execute_script("return window.explorerTimings.at(-1).ms"))
    return uploads, strokes


def measure_grad_cam(port, count):
    """(server ms, round-trip ms) of Grad-CAM for ``count`` test images not computed before."""
    server, trip = [], []
    base = f"http://127.0.0.1:{port}"
    for i in range(500, 500 + count):
        request = urllib.request.Request(f"{base}/api/test-images/{i}", method="POST")
        image = json.loads(urllib.request.urlopen(request).read())["id"]
        start = time.perf_counter()
        cam = json.loads(urllib.request.urlopen(f"{base}/api/images/{image}/grad-cam").read())
        trip.append((time.perf_counter() - start) * 1000)
        assert cam["cached"] is False
        server.append(cam["server_ms"])
    return server, trip


def summary(name, values, target):
    values = sorted(values)
    median = statistics.median(values)
    print(
        f"  {name:<34} median {median:7.1f} ms   min {values[0]:7.1f}   max {values[-1]:7.1f}"
        f"   (n={len(values)}; target < {target} ms)"
    )


def screenshot(driver, url, path):
    """The page with the demo garment (test image 39, an ankle boot) and one value of conv2d_1 clicked."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    load(driver, url)
    driver.execute_script("document.getElementById('test-index').value = 39")
    driver.find_element(By.ID, "test-show").click()
    wait_for(driver, "document.getElementById('source').textContent.startsWith('test image 39')")
    wait_for(driver, "document.getElementById('grad-cam-layer').textContent !== ''")
    canvas = driver.find_element(By.CSS_SELECTOR, '.maps[data-layer="conv2d_1"] canvas[data-channel="2"]')
    ActionChains(driver).move_to_element_with_offset(canvas, 6, -4).click().perform()
    wait_for(driver, "document.getElementById('explain-value') !== null")
    driver.execute_script("window.scrollTo(0, 0)")
    zero = "document.getElementById('grad-cam-layer').classList.contains('warning')"
    if driver.execute_script(f"return {zero}"):
        print("plain Grad-CAM is 0 everywhere for this image: the screenshot shows Grad-CAM++")
        driver.find_element(By.CSS_SELECTOR, "#cam-method option[value='1']").click()
        wait_for(driver, f"!{zero}")
    inner = driver.execute_script("return window.outerHeight - window.innerHeight")
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(driver.get_window_size()["width"], height + inner)
    time.sleep(0.3)
    driver.save_screenshot(str(path))
    print(f"wrote {path}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", help="a model file (default: train the demo's into a temporary folder)")
    parser.add_argument(
        "--repeat", type=int, default=10, help="loads, uploads, strokes and Grad-CAMs measured"
    )
    parser.add_argument("--screenshot", help="only take the README's screenshot into this PNG")
    parser.add_argument("--height", type=int, default=1000, help="the browser window's height (screenshot)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        model = Path(args.model) if args.model else demo_model(Path(folder) / "demo")
        port = free_port()
        server = start_server(model, port)
        driver = browser(height=args.height)
        url = f"http://127.0.0.1:{port}/"
        try:
            if args.screenshot:
                screenshot(driver, url, args.screenshot)
                return
            load(driver, url)  # the first load warms the browser's caches and the server's imports
            ready = [load(driver, url) for _ in range(args.repeat)]
            uploads, strokes = measure_updates(driver, test_pngs(folder, args.repeat))
            server_ms, trip_ms = measure_grad_cam(port, args.repeat)
            errors = [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]
        finally:
            driver.quit()
            server.terminate()
            server.wait(timeout=30)
    import numpy
    import selenium
    import starlette
    import uvicorn
    from speed import cpu_model  # benchmarks/speed.py, beside this script

    print(f"CPU: {cpu_model()}, {os.cpu_count()} cores; load average {os.getloadavg()}")
    print(
        f"Python {platform.python_version()}, NumPy {numpy.__version__}, Starlette {starlette.__version__}, "
        f"uvicorn {uvicorn.__version__}, selenium {selenium.__version__}"
    )
    print(f"model: {model}")
    summary("interactive (navigation -> drawn)", ready, 2000)
    summary("update after an upload", uploads, 300)
    summary("update after a canvas stroke", strokes, 300)
    summary("Grad-CAM, server time", server_ms, 100)
    summary("Grad-CAM, HTTP round trip", trip_ms, 100)
    print(f"browser console errors: {len(errors)}")


if __name__ == "__main__":
    main()
