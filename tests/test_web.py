"""keras-mnist-gan web: the site's files, and the page in a real headless browser.

The browser tests use Debian's chromium and chromedriver (apt-get install
chromium chromium-driver) through selenium; they skip, saying why, where
those are missing, unless KERAS_MNIST_GAN_REQUIRE_BROWSER=1 (as .ci/run sets)
makes that a failure. KERAS_MNIST_GAN_SCREENSHOT=PATH also saves the page as
the README shows it.
"""

import importlib.util
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from importlib import resources
from pathlib import Path

import keras
import numpy as np
import pytest

from keras_mnist_gan import cli
from keras_mnist_gan.evaluation import shipped_model
from keras_mnist_gan.sampling import generate
from keras_mnist_gan.images import grid
from keras_mnist_gan.noise import draw_inputs, draw_noise, noise_stream
from keras_mnist_gan.saving import load_generator

WEB = Path(str(resources.files("keras_mnist_gan") / "web"))
CAN_EXPORT = keras.backend.backend() == "tensorflow" and all(
    importlib.util.find_spec(m) for m in ("tf2onnx", "onnx", "onnxruntime")
)
needs_export = pytest.mark.skipif(not CAN_EXPORT, reason="writing a site needs TensorFlow and the [export] extra")


def test_vendored_runtime_is_the_pinned_npm_package():
    pinned = json.loads((WEB / "package.json").read_text())["dependencies"]["onnxruntime-web"]
    locked = json.loads((WEB / "package-lock.json").read_text())["packages"]["node_modules/onnxruntime-web"]
    vendored = json.loads((WEB / "vendor" / "onnxruntime-web.package.json").read_text())
    assert pinned == locked["version"] == vendored["version"]
    assert (WEB / "vendor" / "ort-wasm-simd-threaded.wasm").read_bytes()[:4] == b"\0asm"


@pytest.mark.skipif(shutil.which("node") is None, reason="needs node to run web/noise.js")
def test_page_noise_is_the_python_noise_number_for_number():
    script = (
        "import {NoiseStream} from %s; const out = {};"
        "for (const seed of [0, 7, 4294967295]) { const s = new NoiseStream(seed);"
        " out[seed] = [Array.from(s.normals(3 * 100)), Array.from(s.normals(5))];"
        " const c = s.inputs(4, 7, 10); out[seed].push(Array.from(c.noise), Array.from(c.labels)); }"
        "console.log(JSON.stringify(out));"
    ) % json.dumps((WEB / "noise.js").as_uri())
    got = json.loads(
        subprocess.run(["node", "--input-type=module", "-e", script], check=True, capture_output=True, text=True).stdout
    )
    for seed, (first, second, noise, labels) in got.items():
        stream = noise_stream(int(seed))
        np.testing.assert_array_equal(np.float32(first), draw_noise(stream, 3, 100).ravel())
        np.testing.assert_array_equal(np.float32(second), draw_noise(stream, 1, 5).ravel())
        # A conditional generator's inputs: an odd noise size keeps a spare
        # normal between digits, and the classes come between them.
        expected_noise, expected_labels = draw_inputs(stream, 4, 7, 10)
        np.testing.assert_array_equal(np.float32(noise), expected_noise.ravel())
        np.testing.assert_array_equal(labels, expected_labels)


@needs_export
def test_site_files_and_rewrite(tmp_path, capsys):
    site = tmp_path / "site"
    assert cli.main(["web", "--out", str(site)]) == 0
    assert "python -m http.server -d" in capsys.readouterr().out
    files = {str(p.relative_to(site)) for p in site.rglob("*") if p.is_file()}
    assert {
        "index.html",
        "app.js",
        "noise.js",
        "model.json",
        "generator.onnx",
        "vendor/ort.wasm.min.js",
        "vendor/ort-wasm-simd-threaded.wasm",
    } <= files
    info = json.loads((site / "model.json").read_text())
    assert info["noise_dim"] == 100 and info["num_classes"] == 10 and info["grid"]["n"] == 64
    assert cli.main(["web", "--out", str(site), "--model", str(shipped_model("unconditional_generator.keras"))]) == 0
    assert json.loads((site / "model.json").read_text())["num_classes"] is None
    assert sorted(os.listdir(tmp_path)) == ["site"]  # no temporary folder left


def test_site_refuses_a_folder_of_other_files(tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("mine")
    assert cli.main(["web", "--out", str(tmp_path)]) == 1
    err = capsys.readouterr().err.strip()
    assert "holds other files" in err and "\n" not in err
    assert os.listdir(tmp_path) == ["notes.txt"]


# --- in the browser ----------------------------------------------------------


def _browser_missing() -> str | None:
    if importlib.util.find_spec("selenium") is None:
        return "needs selenium (pip install -e .[test])"
    for tool in ("chromium", "chromedriver"):
        if shutil.which(tool) is None:
            return f"needs {tool} (apt-get install chromium chromium-driver)"
    return None


@pytest.fixture(scope="module")
def browser():
    missing = _browser_missing()
    if missing:
        if os.environ.get("KERAS_MNIST_GAN_REQUIRE_BROWSER") == "1":
            pytest.fail(f"browser tests required but {missing}")
        print(f"\nskipping the browser tests: {missing}")
        pytest.skip(missing)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium")
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1000,1000"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=options)
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def serve():
    """serve(folder) -> the URL of `python -m http.server -d folder`, as the
    README tells users to serve the site, on a free port of 127.0.0.1."""
    servers = []

    def start(folder):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        server = subprocess.Popen(
            [sys.executable, "-m", "http.server", "-d", str(folder), "--bind", "127.0.0.1", str(port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        servers.append(server)
        end = time.time() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return f"http://127.0.0.1:{port}"
            except OSError:
                if time.time() > end or server.poll() is not None:
                    raise AssertionError(f"python -m http.server did not start on port {port}")
                time.sleep(0.1)

    yield start
    for server in servers:
        server.terminate()
        server.wait(timeout=10)


@pytest.fixture(scope="module")
def sites(tmp_path_factory):
    if not CAN_EXPORT:
        pytest.skip("writing a site needs TensorFlow and the [export] extra")
    out = {}
    for name in ("generator.keras", "unconditional_generator.keras"):
        site = tmp_path_factory.mktemp("site")
        assert cli.main(["web", "--out", str(site), "--model", str(shipped_model(name))]) == 0
        out[name] = site
    return out


def _wait(driver, condition: str, timeout: float = 60.0):
    end = time.time() + timeout
    while time.time() < end:
        value = driver.execute_script(f"return {condition};")
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(
        f"timed out waiting for {condition}; page says: " + driver.execute_script("return document.body.innerText;")
    )


def _open(driver, url):
    driver.get_log("browser")  # drop earlier pages' messages
    driver.get(url)
    _wait(driver, "document.body.dataset.ready || document.body.dataset.error")


def _canvas(driver) -> np.ndarray:
    w, h, data = driver.execute_script(
        "const c = document.getElementById('digits');"
        "return [c.width, c.height, Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data)];"
    )
    rgba = np.array(data, np.uint8).reshape(h, w, 4)
    assert (rgba[..., 0] == rgba[..., 1]).all() and (rgba[..., 3] == 255).all()
    return rgba[..., 0].astype(int)


def _errors(driver) -> list:
    return [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]


@pytest.fixture(scope="module")
def generators():
    return {name: load_generator(shipped_model(name)) for name in ("generator.keras", "unconditional_generator.keras")}


def test_page_draws_the_digits_sample_draws(browser, serve, sites, generators):
    url = serve(sites["generator.keras"])
    _open(browser, f"{url}/?seed=5")
    assert browser.execute_script("return document.body.dataset.ready") == "true"
    assert _errors(browser) == []
    expected = grid(generate(generators["generator.keras"], 64, seed=5), scale=1).astype(int)
    got = _canvas(browser)
    assert got.shape == expected.shape
    assert np.abs(got - expected).max() <= 1  # within 1/255
    # Everything came from the local server.
    resources_ = browser.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
    assert resources_ and all(name.startswith(url) for name in resources_)
    if os.environ.get("KERAS_MNIST_GAN_SCREENSHOT"):
        browser.save_screenshot(os.environ["KERAS_MNIST_GAN_SCREENSHOT"])


def test_seed_field_new_digits_and_walk(browser, serve, sites, generators):
    _open(browser, serve(sites["generator.keras"]) + "/")
    seed = browser.find_element("id", "seed")
    seed.clear()
    seed.send_keys("7")
    browser.find_element("id", "draw").click()
    _wait(browser, "document.body.dataset.seed === '7'")
    expected = grid(generate(generators["generator.keras"], 64, seed=7), scale=1).astype(int)
    assert np.abs(_canvas(browser) - expected).max() <= 1

    browser.find_element("id", "new").click()
    _wait(browser, "document.body.dataset.seed !== '7'")
    new_seed = int(browser.execute_script("return document.body.dataset.seed"))
    assert int(seed.get_attribute("value")) == new_seed
    assert np.abs(_canvas(browser) - expected).mean() > 5  # other digits

    before = _canvas(browser)
    walk = browser.find_element("id", "walk")
    walk.click()
    assert walk.get_attribute("aria-pressed") == "true"
    _wait(browser, "Number(document.body.dataset.walkFrames) >= 3")  # frames keep coming
    walk.click()
    _wait(browser, "document.getElementById('walk').getAttribute('aria-pressed') === 'false'")
    walked = _canvas(browser)
    assert 0 < np.abs(walked - before).mean()
    assert _errors(browser) == []


def test_conditional_page_has_a_digit_picker(browser, serve, sites, generators):
    """Any digit (random classes from the seed, as `sample` draws them), one
    row per digit (`--digit 0-9`), or one digit (`--digit 4`)."""
    from selenium.webdriver.support.ui import Select

    _open(browser, serve(sites["generator.keras"]) + "/?seed=3")
    g = generators["generator.keras"]
    anything = grid(generate(g, 64, seed=3), scale=1).astype(int)
    assert np.abs(_canvas(browser) - anything).max() <= 1
    assert "--digit" not in browser.find_element("id", "status").text
    Select(browser.find_element("id", "digit")).select_by_value("rows")
    _wait(browser, "document.getElementById('status').textContent.includes('--digit 0-9')")
    rows = grid(generate(g, 100, seed=3, labels=np.arange(100) // 10), ncols=10, scale=1).astype(int)
    assert np.abs(_canvas(browser) - rows).max() <= 1
    Select(browser.find_element("id", "digit")).select_by_value("4")
    _wait(browser, "document.getElementById('status').textContent.includes('--digit 4')")
    fours = grid(generate(g, 64, seed=3, labels=4), scale=1).astype(int)
    assert np.abs(_canvas(browser) - fours).max() <= 1
    assert _errors(browser) == []


def test_missing_model_says_so(browser, serve, sites, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(sites["generator.keras"], broken)
    (broken / "generator.onnx").unlink()
    _open(browser, serve(broken) + "/")
    assert browser.execute_script("return document.body.dataset.error") == "true"
    message = browser.find_element("id", "message")
    assert message.is_displayed() and "generator.onnx is missing" in message.text
    assert browser.execute_script("return document.body.dataset.ready") is None


def test_no_webassembly_says_so(browser, serve, sites):
    script = browser.execute_cdp_cmd(
        "Page.addScriptToEvaluateOnNewDocument", {"source": "delete globalThis.WebAssembly;"}
    )
    try:
        _open(browser, serve(sites["generator.keras"]) + "/")
        message = browser.find_element("id", "message")
        assert message.is_displayed() and "cannot run WebAssembly" in message.text
        assert browser.execute_script("return document.body.dataset.ready") is None
    finally:
        browser.execute_cdp_cmd("Page.removeScriptToEvaluateOnNewDocument", script)
