#!/usr/bin/env python3
"""Open every page of the built website in headless Chromium, with no network, and check what a reader sees.

    python .ci/browser_check.py [--site _build/html] [--screenshots artifacts/screenshots]

Each page is opened from disk (``file://``), as a reader who downloaded the site would open it; every request
to another host is refused. A page fails when it shows

- TeX that MathJax did not typeset (``$$``, ``\\(``, ``\\[``, ``$...\\...$`` left in the text, a math element
  without MathJax output, a MathJax error), or MathJax is not loaded where the page has math;
- a broken image, or any resource (script, style sheet, font) that does not load;
- a JavaScript error (an uncaught exception or a ``console.error``);
- a request to the network (the site must work offline);
- for a notebook page: no Colab launch link to this notebook in the configured repository, no download
  button for the ``.ipynb``, or a download link whose file is missing; an ipywidgets output the site cannot
  show (tag such a cell ``remove-output`` and draw a static figure in another cell).

A screenshot of the top of every page, and of the first equation and the first figure of every chapter, goes
to ``--screenshots`` for the test report. Chromium is driven through its DevTools protocol over a pipe
(``--remote-debugging-pipe``), with the standard library only: no Selenium, no driver.
Exit status 0 when every page passes, 1 otherwise.
"""
from __future__ import annotations

import argparse
import base64
import fcntl
import json
import os
import re
import select
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run",
    "--disable-component-update", "--disable-sync", "--no-default-browser-check", "--hide-scrollbars",
    "--mute-audio", "--disable-extensions", "--remote-debugging-pipe",
    "--host-resolver-rules=MAP * ~NOTFOUND",  # no host resolves: the check never reaches the network
]
WIDTH, HEIGHT = 1280, 900
PAGE_TIMEOUT = 30.0  # seconds for one page to load and typeset
REDIRECT = re.compile(r'<meta http-equiv="refresh" content="0; ?url=([^"]+)"', re.IGNORECASE)

# Runs in the page once it has loaded: waits for MathJax and the images, then reports what the reader sees.
INSPECT_JS = r"""
(async () => {
  const sleep = ms => new Promise(r => setTimeout(r, ms));
  const out = {problems: [], mathjax: null, math: 0, typeset: 0, widgets: 0, title: document.title};
  const mathEls = [...document.querySelectorAll('.math')].filter(e => !e.closest('pre, code'));
  out.math = mathEls.length;
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) {
    try { await MathJax.startup.promise; } catch (e) { out.problems.push('MathJax failed: ' + e); }
    out.mathjax = MathJax.version || 'unknown';
  }
  // images: load the lazy ones too, then wait for every one to settle
  const imgs = [...document.images];
  imgs.forEach(i => { if (i.loading === 'lazy') i.loading = 'eager'; });
  const t0 = Date.now();
  while (imgs.some(i => !i.complete) && Date.now() - t0 < 10000) await sleep(50);
  for (const i of imgs) {
    if (!i.complete || i.naturalWidth === 0) out.problems.push('broken image: ' + (i.getAttribute('src') || '(no src)'));
  }
  // math: typeset, no MathJax errors
  if (out.math && !out.mathjax) out.problems.push(`MathJax not loaded, ${out.math} math element(s) left as TeX`);
  for (const e of mathEls) {
    if (e.querySelector('mjx-container')) out.typeset++;
    else out.problems.push('math not typeset: ' + e.textContent.trim().slice(0, 80));
  }
  for (const e of document.querySelectorAll('mjx-merror, [data-mjx-error]'))
    out.problems.push('MathJax error: ' + (e.getAttribute('data-mjx-error') || e.textContent).slice(0, 120));
  // TeX left in the visible text (code, scripts and typeset math excluded)
  const skip = 'pre, code, kbd, samp, script, style, textarea, mjx-container, .highlight, .MathJax';
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT, {
    acceptNode: n => (n.parentElement && n.parentElement.closest(skip)) ? NodeFilter.FILTER_REJECT : NodeFilter.FILTER_ACCEPT});
  let text = '';
  for (let n = walker.nextNode(); n; n = walker.nextNode()) text += n.nodeValue + ' ';
  const tex = [/\$\$/, /\\\(/, /\\\[/, /\\begin\{/, /\$[^$\s][^$]{0,200}?[\\^_{}][^$]{0,200}?\$/];
  for (const re of tex) {
    const m = text.match(re);
    if (m) { const i = m.index; out.problems.push('unrendered TeX: ...' + text.slice(Math.max(0, i - 30), i + 50).replace(/\s+/g, ' ') + '...'); break; }
  }
  // warnings (reported, not failed): display equations wider than the text column are cut off on screen
  out.warnings = [];
  for (const e of document.querySelectorAll('div.math')) {
    const c = e.querySelector('mjx-container');
    if (c && (c.scrollWidth > c.clientWidth + 2 || e.scrollWidth > e.clientWidth + 2))
      out.warnings.push(`display equation wider than the text column (${Math.max(c.scrollWidth, e.scrollWidth)} > ${e.clientWidth} px), `
                        + 'readers must scroll sideways: ' + (e.id || e.previousElementSibling && e.previousElementSibling.id || e.textContent.slice(0, 60)));
  }
  out.widgets = document.querySelectorAll('script[type="application/vnd.jupyter.widget-view+json"]').length;
  // the diagrams: every cell tagged diagram-NAME, and whether it shows a loaded image of some size
  out.diagrams = [...document.querySelectorAll('[class*="tag_diagram-"]')].map(d => {
    const name = [...d.classList].find(c => c.startsWith('tag_diagram-')).slice('tag_diagram-'.length);
    const img = d.querySelector('img');
    return {name, shown: !!img && img.complete && img.naturalWidth > 0 && img.getBoundingClientRect().width > 100};
  });
  // where the first display equation and the first figure are, for the screenshots
  const rect = e => { if (!e) return null; e.scrollIntoView(); const r = e.getBoundingClientRect();
    return {x: 0, y: Math.max(0, r.top + window.scrollY - 40), width: document.documentElement.clientWidth,
            height: Math.min(r.height + 80, 1200)}; };
  out.equation = rect(document.querySelector('div.math mjx-container, mjx-container[display="true"]'));
  out.figure = rect([...document.querySelectorAll('.cell_output img, figure img, img.align-center, .output img')][0]);
  window.scrollTo(0, 0);
  out.launch = [...document.querySelectorAll('.dropdown-launch-buttons a')].map(a => a.href);
  out.download = [...document.querySelectorAll('a.btn-download-source-button')].map(a => a.getAttribute('href'));
  return out;
})()
"""


class Chromium:
    """A headless Chromium and its DevTools protocol, spoken over the two pipes of --remote-debugging-pipe."""

    def __init__(self, binary: str):
        self.profile = tempfile.mkdtemp(prefix="browser-check-")
        to_chrome_r, self._to_chrome = os.pipe()
        self._from_chrome, from_chrome_w = os.pipe()

        def wire_pipes():  # in the child: Chromium reads commands on fd 3 and writes replies on fd 4
            a = fcntl.fcntl(to_chrome_r, fcntl.F_DUPFD, 10)
            b = fcntl.fcntl(from_chrome_w, fcntl.F_DUPFD, 10)
            os.dup2(a, 3)
            os.dup2(b, 4)

        self.log = Path(self.profile) / "chromium.log"
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(
                [binary, *FLAGS, f"--user-data-dir={self.profile}", f"--window-size={WIDTH},{HEIGHT}", "about:blank"],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                preexec_fn=wire_pipes, pass_fds=(3, 4), close_fds=True,
            )
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self._buf = b""
        self._next_id = 0
        self.events: list[dict] = []
        self.session = None

    def send(self, method: str, params: dict | None = None, timeout: float = PAGE_TIMEOUT, session: bool = True):
        """Send one command and return its result; events that arrive meanwhile are kept in ``self.events``."""
        self._next_id += 1
        msg = {"id": self._next_id, "method": method, "params": params or {}}
        if session and self.session:
            msg["sessionId"] = self.session
        try:
            os.write(self._to_chrome, json.dumps(msg).encode() + b"\0")
        except BrokenPipeError:
            tail = self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""
            raise RuntimeError(f"Chromium is not running (exit status {self.proc.poll()})\n{tail}") from None
        deadline = time.monotonic() + timeout
        while True:
            reply = self._read(deadline)
            if reply is None:
                raise TimeoutError(f"no answer to {method} within {timeout:.0f} s")
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error'].get('message')}")
                return reply.get("result", {})
            if "method" in reply:
                self.events.append(reply)

    def wait_event(self, method: str, timeout: float = PAGE_TIMEOUT) -> dict | None:
        """Wait for the next event called ``method`` (earlier events stay in ``self.events``)."""
        for i, event in enumerate(self.events):
            if event["method"] == method:
                return self.events.pop(i)
        deadline = time.monotonic() + timeout
        while True:
            msg = self._read(deadline)
            if msg is None:
                return None
            if msg.get("method") == method:
                return msg
            if "method" in msg:
                self.events.append(msg)

    def _read(self, deadline: float) -> dict | None:
        while b"\0" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._from_chrome], [], [], left)[0]:
                return None
            chunk = os.read(self._from_chrome, 1 << 20)
            if not chunk:
                tail = self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""
                raise RuntimeError(f"Chromium closed its DevTools pipe (did it crash?)\n{tail}")
            self._buf += chunk
        raw, self._buf = self._buf.split(b"\0", 1)
        return json.loads(raw)

    def open_tab(self):
        target = self.send("Target.createTarget", {"url": "about:blank"}, session=False)
        self.session = self.send("Target.attachToTarget", {"targetId": target["targetId"], "flatten": True},
                                 session=False)["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.send(f"{domain}.enable")
        self.send("Emulation.setDeviceMetricsOverride",
                  {"width": WIDTH, "height": HEIGHT, "deviceScaleFactor": 1, "mobile": False})

    def close(self):
        try:
            self.send("Browser.close", session=False, timeout=5)
        except (RuntimeError, TimeoutError, OSError):
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        for fd in (self._to_chrome, self._from_chrome):
            try:
                os.close(fd)
            except OSError:
                pass
        shutil.rmtree(self.profile, ignore_errors=True)


def expected_colab_url(config: dict, source: str) -> str:
    """The Colab link sphinx-book-theme should show for the notebook ``source`` (path in the book)."""
    repo = config["repository"]["url"].rstrip("/")
    owner_repo = repo.split("github.com/", 1)[1]
    branch = config["repository"].get("branch", "main")
    book = (config["repository"].get("path_to_book") or "").strip("/")
    path = f"{book}/{source}" if book else source
    colab = config["launch_buttons"]["colab_url"].rstrip("/")
    return f"{colab}/github/{owner_repo}/blob/{branch}/{path}"


def event_problems(events: list[dict]) -> list[str]:
    """JavaScript errors, failed loads and network requests among the DevTools events of one page."""
    problems, requests = [], {}
    for ev in events:
        method, p = ev["method"], ev.get("params", {})
        if method == "Network.requestWillBeSent":
            url = p["request"]["url"]
            requests[p["requestId"]] = url
            if not url.startswith(("file:", "data:", "blob:", "about:", "chrome")):
                problems.append(f"network request (the site must work offline): {url}")
        elif method == "Network.loadingFailed" and not p.get("canceled"):
            url = requests.get(p["requestId"], "?")
            if url.startswith(("file:", "data:")):
                problems.append(f"resource failed to load ({p.get('errorText')}): {url}")
        elif method == "Runtime.exceptionThrown":
            d = p["exceptionDetails"]
            desc = d.get("exception", {}).get("description") or d.get("text", "")
            problems.append(f"JavaScript error: {desc.splitlines()[0] if desc else d}"
                            f" ({d.get('url', '')}:{d.get('lineNumber', '?')})")
        elif method == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
            args = " ".join(str(a.get("value", a.get("description", ""))) for a in p.get("args", []))
            problems.append(f"console.{p['type']}: {args[:200]}")
        elif method == "Log.entryAdded" and p["entry"].get("level") == "error":
            entry = p["entry"]
            problems.append(f"browser error ({entry.get('source')}): {entry.get('text', '')[:200]} {entry.get('url', '')}")
    return sorted(set(problems), key=problems.index)


def shoot(browser: Chromium, path: Path, clip: dict | None = None):
    params = {"format": "png"}
    if clip:
        params.update(clip={**clip, "scale": 1}, captureBeyondViewport=True)
    data = browser.send("Page.captureScreenshot", params)["data"]
    path.write_bytes(base64.b64decode(data))


def check_page(browser: Chromium, site: Path, html: Path, config: dict, shots: Path | None) -> tuple[list[str], dict]:
    rel = html.relative_to(site).as_posix()
    page = rel[: -len(".html")]
    redirect = REDIRECT.search(html.read_text(errors="replace"))
    if redirect:  # a page that only forwards the reader (index.html): its target must exist
        target = (html.parent / redirect.group(1).split("#")[0]).resolve()
        return ([] if target.is_file() else [f"redirects to a missing page: {redirect.group(1)}"]), {}
    browser.events.clear()
    nav = browser.send("Page.navigate", {"url": html.resolve().as_uri()})
    if nav.get("errorText"):
        return [f"could not open: {nav['errorText']}"], {}
    if browser.wait_event("Page.loadEventFired") is None:
        return [f"did not load within {PAGE_TIMEOUT:.0f} s"], {}
    result = browser.send("Runtime.evaluate", {"expression": INSPECT_JS, "awaitPromise": True, "returnByValue": True})
    if "exceptionDetails" in result:
        return [f"page inspection failed: {result['exceptionDetails'].get('text')}"], {}
    info = result["result"]["value"]
    problems = list(info["problems"])

    source = site / "_sources" / f"{page}.ipynb"
    if source.exists():  # a notebook page
        want = expected_colab_url(config, f"{page}.ipynb")
        if want not in info["launch"]:
            problems.append(f"no Colab launch link {want} (found: {info['launch'] or 'none'})")
        hrefs = [h for h in info["download"] if h.split("?")[0].endswith(f"_sources/{page}.ipynb")]
        if not hrefs:
            problems.append(f"no download button for {page}.ipynb (found: {info['download'] or 'none'})")
        elif not (html.parent / hrefs[0].split("?")[0]).resolve().is_file():
            problems.append(f"download link {hrefs[0]} points to a missing file")
        nb = json.loads(source.read_text())
        tagged = sorted(t[len("diagram-"):] for c in nb["cells"] for t in c.get("metadata", {}).get("tags", [])
                        if t.startswith("diagram-"))
        shown = sorted(d["name"] for d in info.get("diagrams", []) if d["shown"])
        if shown != tagged:
            problems.append(f"diagrams: the notebook has {tagged}, the page shows {shown}")
        if info["widgets"]:
            problems.append(f"{info['widgets']} ipywidgets output(s) the site cannot show: tag the cell "
                            "'remove-output' and draw a static figure in another cell")

    if shots is not None:
        name = page.replace("/", "__")
        shoot(browser, shots / f"{name}.png")
        if source.exists():
            for kind in ("equation", "figure"):
                if info.get(kind):
                    shoot(browser, shots / f"{name}-{kind}.png", info[kind])

    # leave the page, so that its late events are counted for it and not for the next page
    browser.send("Page.navigate", {"url": "about:blank"})
    browser.wait_event("Page.loadEventFired", timeout=5)
    problems += event_problems(browser.events)
    return problems, info


def find_chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        if shutil.which(name):
            return shutil.which(name)
    sys.exit("browser check: Chromium not found; install it with "
             "`apt-get update && apt-get install -y chromium`")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--site", type=Path, default=ROOT / "_build" / "html", help="the built site (default: _build/html)")
    ap.add_argument("--config", type=Path, default=ROOT / "_config.yml")
    ap.add_argument("--screenshots", type=Path, default=ROOT / "artifacts" / "screenshots",
                    help="folder for the screenshots (emptied first)")
    ap.add_argument("--no-screenshots", action="store_true")
    ap.add_argument("--chromium", default=None, help="the browser binary (default: chromium on PATH)")
    args = ap.parse_args(argv)

    site = args.site.resolve()
    if not (site / "index.html").exists():
        sys.exit(f"browser check: no built site at {site} (run jupyter-book build first)")
    config = yaml.safe_load(args.config.read_text())
    skip = ("_static", "_sources", "_images", "_sphinx_design_static", "_panels_static")
    pages = sorted(p for p in site.rglob("*.html") if not p.relative_to(site).parts[0] in skip)
    shots = None
    if not args.no_screenshots:
        shots = args.screenshots
        shutil.rmtree(shots, ignore_errors=True)
        shots.mkdir(parents=True)

    t0 = time.monotonic()
    browser = Chromium(args.chromium or find_chromium())
    failed = warned = 0
    try:
        browser.open_tab()
        version = browser.send("Browser.getVersion", session=False).get("product", "?")
        print(f"browser check: {len(pages)} pages of {site.name} in {version}, no network")
        for html in pages:
            t = time.monotonic()
            try:
                problems, info = check_page(browser, site, html, config, shots)
            except TimeoutError as err:  # one page that hangs fails, the others are still checked
                problems, info = [f"timed out: {err}"], {}
            rel = html.relative_to(site).as_posix()
            note = f"{info.get('typeset', 0)}/{info.get('math', 0)} math typeset" if info else ""
            status = "FAIL" if problems else "ok  "
            print(f"  {status} {rel:40s} {time.monotonic() - t:5.1f} s  {note}")
            for p in problems:
                print(f"         - {p}")
            for w in info.get("warnings", []):
                print(f"         ~ warning: {w}")
            warned += bool(info.get("warnings"))
            failed += bool(problems)
    finally:
        browser.close()
    elapsed = time.monotonic() - t0
    if shots is not None:
        print(f"browser check: screenshots in {shots.relative_to(ROOT) if shots.is_relative_to(ROOT) else shots}")
    if warned:
        print(f"browser check: {warned} page(s) with warnings (~), not failures")
    print(f"browser check: {len(pages) - failed} passed, {failed} failed ({elapsed:.1f} s)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
