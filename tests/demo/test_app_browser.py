"""The web demo in a real browser: Debian's chromium driven by Selenium through the system
chromedriver (installed by tools/setup_browser.sh; nothing is downloaded). The page's screenshot
is kept in work_dirs/test_artifacts/."""
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import cv2
import numpy as np
import pytest

pytest.importorskip('gradio', reason='the web demo needs the demo extra (pip install -e .[demo])')
webdriver = pytest.importorskip('selenium.webdriver')
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions as ready  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

from mmcoc.datasets import render_scene  # noqa: E402

ROOT = Path(__file__).parents[2]
ARTIFACTS = ROOT / 'work_dirs' / 'test_artifacts'
CONFIG = 'configs/demo/coc_tiny_plain_cls_demo.py'
CLASSES = ('ellipse', 'rectangle', 'star', 'triangle')
CHROMIUM = shutil.which('chromium')
CHROMEDRIVER = shutil.which('chromedriver')
pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not (CHROMIUM and CHROMEDRIVER),
                                 reason='needs Debian chromium + chromium-driver '
                                 '(tools/setup_browser.sh, run by make test)')]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


@pytest.fixture(scope='module')
def server(tmp_path_factory):
    port = free_port()
    checkpoints = tmp_path_factory.mktemp('no_checkpoints')
    env = dict(os.environ, OMP_NUM_THREADS='1', GRADIO_ANALYTICS_ENABLED='False')
    log = open(tmp_path_factory.mktemp('server') / 'server.log', 'w+')
    proc = subprocess.Popen([sys.executable, '-m', 'mmcoc.demo', '--config', CONFIG,
                             '--checkpoints', str(checkpoints), '--port', str(port)],
                            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f'http://127.0.0.1:{port}/'
    deadline = time.time() + 180
    while True:
        try:
            urllib.request.urlopen(url, timeout=2)
            break
        except OSError:
            if proc.poll() is not None or time.time() > deadline:
                log.seek(0)
                proc.kill()
                pytest.fail(f'the demo server did not start:\n{log.read()[-3000:]}')
            time.sleep(1)
    yield url
    proc.terminate()
    proc.wait(timeout=30)


@pytest.fixture(scope='module')
def browser():
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ('--headless=new', '--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu',
                '--window-size=1400,1500'):
        options.add_argument(arg)
    os.environ['SE_OFFLINE'] = 'true'  # Selenium Manager must never fetch a driver
    driver = webdriver.Chrome(options=options,
                              service=webdriver.ChromeService(executable_path=CHROMEDRIVER))
    yield driver
    driver.quit()


def upload_and_run(browser, url, path):
    browser.get(url)
    wait = WebDriverWait(browser, 60)
    file_input = wait.until(ready.presence_of_element_located(
        (By.CSS_SELECTOR, '#upload input[type=file]')))
    file_input.send_keys(str(path))
    # the upload has finished when the component lists the file
    wait.until(lambda d: path.stem in d.find_element(By.ID, 'upload').text)
    browser.find_element(By.ID, 'run').click()


def test_upload_shows_cluster_overlay_and_classes(server, browser, tmp_path):
    image = render_scene(np.random.default_rng(1), 180, 240).image
    path = tmp_path / 'scene.png'
    cv2.imwrite(str(path), image[..., ::-1])
    upload_and_run(browser, server, path)
    shown = WebDriverWait(browser, 180).until(ready.presence_of_element_located(
        (By.CSS_SELECTOR, '#overlay img[src]')))
    overlay = cv2.imdecode(np.frombuffer(urllib.request.urlopen(shown.get_attribute('src'))
                                         .read(), np.uint8), cv2.IMREAD_COLOR)[..., ::-1]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(ARTIFACTS / 'cluster_demo.png'))
    # the overlay is the image (640 px wide) under a caption strip, tinted by clusters
    assert overlay.shape[1] == 640
    picture = overlay[-480:]
    original = cv2.resize(image, (640, 480), interpolation=cv2.INTER_LINEAR)
    assert np.abs(picture.astype(int) - original).mean() > 10
    assert (picture == 255).all(-1).mean() > 0.005  # white cluster boundaries
    message = browser.find_element(By.ID, 'message').text
    assert 'random init' in message and 'clusters' in message
    labels = browser.find_element(By.ID, 'classes').text
    assert sum(name in labels for name in CLASSES) >= 2  # the config's class names, top first


def test_bad_upload_gets_a_message_in_the_page(server, browser, tmp_path):
    path = tmp_path / 'notes.png'
    path.write_text('not an image at all')
    upload_and_run(browser, server, path)
    WebDriverWait(browser, 60).until(
        lambda d: 'cannot be used' in d.find_element(By.ID, 'message').text)
    assert 'not an image' in browser.find_element(By.ID, 'message').text


def test_a_strip_gets_its_reason_in_one_line(server, browser, tmp_path):
    path = tmp_path / 'strip.png'
    cv2.imwrite(str(path), np.full((1, 4000, 3), 120, np.uint8))
    upload_and_run(browser, server, path)
    WebDriverWait(browser, 120).until(
        lambda d: 'cannot be used' in d.find_element(By.ID, 'message').text)
    message = browser.find_element(By.ID, 'message').text
    assert 'more than 32 times' in message and '\n' not in message.strip()


def test_one_pixel_upload_works_and_the_page_shows_no_server_path(server, browser, tmp_path):
    path = tmp_path / 'one.png'
    cv2.imwrite(str(path), np.full((1, 1, 3), 200, np.uint8))
    upload_and_run(browser, server, path)
    WebDriverWait(browser, 180).until(
        lambda d: 'clusters on a' in d.find_element(By.ID, 'message').text)
    page = browser.page_source
    assert str(ROOT) not in page and str(tmp_path) not in page  # config list, temp files
    assert 'coc_tiny_plain_cls_demo.py' in browser.find_element(By.ID, 'message').text
