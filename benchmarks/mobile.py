"""The grid worker's report page on a phone on a slow network: bytes and time to a report.

    .venv/bin/python benchmarks/mobile.py                    # /m/report/, median of 3
    .venv/bin/python benchmarks/mobile.py --keep-db --runs 5 # keep the demo for next time
    .venv/bin/python benchmarks/mobile.py --url /incidents/new/ --user city_operator
    .venv/bin/python benchmarks/mobile.py --runs 1 --no-baseline --verbose  # every download

Builds the Suzhou demo territory (``_setup.demo_database``: SQLite in a
throwaway data directory, or kept with ``--keep-db [DIR]``), serves it with
uvicorn on a free port, and drives Debian's Chromium (Playwright's sync API)
as a phone: 390×844, touch, device scale 3, an Android user agent, the
geolocation permission granted and the position set inside the grid worker's
first grid. The user logs in through the log-in form in a throwaway browser
context; its cookies are copied into every measured context, so "cold"
starts with an empty HTTP cache and no service worker, yet signed in.

The network is "slow 3G" through the devtools protocol
(``Network.emulateNetworkConditions``: 400 ms round trip, 400 kbit/s = 50,000
bytes/s down and up), applied to the page and to every worker the page
starts: the page's session auto-attaches them paused
(``Target.setAutoAttach`` with ``waitForDebuggerOnStart``), throttles them,
then lets them run, so the service worker's own fetches (its precache, and a
page it passes through to the network) are throttled and counted too. A
throttle per target is a pipe per target: while the service worker
precaches, the page has its own 400 kbit/s, which flatters the cold time a
little when both download at once. Nor is a connection's set-up emulated:
over HTTPS a real phone spends about two more round trips (0.8 s) on its
first connection.

For each run:

* **cold**, in a fresh context: bytes on the wire (the sum of
  ``Network.loadingFinished.encodedDataLength`` over every request of the
  page and of its workers, until the network has been quiet for 2 s; also
  the part done when the page was loaded and ready), the time from navigation
  until the description textarea can take typed text (the first animation
  frame that shows it, enabled and not read-only; Playwright's ``fill`` then
  checks that it does take text), and until the page is ready:
  ``document.body.dataset.ready = "1"`` on the phone pages (the moment is
  recorded by an observer installed before the page's scripts), the
  ``load`` event elsewhere; both from the start of the navigation
  (``performance.now()`` of the new document). "Interactive", which the
  targets judge, is the later of the two: a report can be typed;
* **warm**, in the same context once ``navigator.serviceWorker.ready`` has
  resolved and the precache is done: the same page again, the same figures,
  and whether a service worker controlled it.

Then the baselines, in the same run: the same cold load without throttling
(what the network costs), and the desk's intake page ``/incidents/new/`` as
``city_operator`` in a desktop window, cold and throttled (what the phone
page saves). Last, the grid mesh: ``/m/grids.geojson`` as the worker
(only their grids) against the city's whole mesh as the desk map fetches it
(``/api/v1/geo/regions/320500/grids.geojson?zoom=9&slim=true`` as ``admin``),
both gzipped as served. Prints a table with the targets (≤ 300 KB cold,
≤ 3 s to interactive cold, ≤ 1 s warm) and the heaviest downloads of the cold
load. Exits 1 if a target is missed or the page cannot be measured.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import statistics
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from _setup import (  # benchmarks/ is on sys.path as a script
    DEFAULT_REUSE_DIR,
    demo_database,
    start_server,
    stop_server,
)

CHROMIUM = Path("/usr/bin/chromium")
#: As tests/browser/conftest.py launches it.
CHROMIUM_ARGS = [
    "--headless=new", "--no-sandbox", "--use-gl=angle", "--use-angle=swiftshader",
    "--enable-unsafe-swiftshader", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
]
PHONE = {
    "viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True,
    "device_scale_factor": 3, "locale": "zh-CN", "timezone_id": "Asia/Shanghai",
    "user_agent": ("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 "
                   "(KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36"),
}
DESKTOP = {"viewport": {"width": 1366, "height": 768}, "locale": "zh-CN",
           "timezone_id": "Asia/Shanghai"}
#: Chrome devtools' "Slow 3G" rounded as issue 13 states it.
SLOW_3G = {"offline": False, "latency": 400, "downloadThroughput": 50_000,
           "uploadThroughput": 50_000}
TARGET_COLD_BYTES = 300 * 1024
TARGET_COLD_S = 3.0
TARGET_WARM_S = 1.0
QUIET_S = 2.0
TIMEOUT_MS = 120_000
DESCRIPTION = 'textarea[name="description"]'
#: Records when the page declares itself ready and the first frame showing
#: the description textarea, enabled: installed before the page's own
#: scripts (through devtools, outside the page's CSP).
READY_OBSERVER = """
(() => {
  const mark = () => {
    if (!window.__benchReady && document.body && document.body.dataset.ready === "1") {
      window.__benchReady = performance.now();
    }
  };
  new MutationObserver(mark).observe(document, {subtree: true, childList: true,
                                                attributes: true, attributeFilter: ["data-ready"]});
  document.addEventListener("DOMContentLoaded", mark);
  // the first frame that shows the description, enabled: one can type from then on
  const typable = (now) => {
    const box = document.querySelector('textarea[name="description"]');
    if (box && !box.disabled && !box.readOnly && box.getClientRects().length
        && getComputedStyle(box).visibility !== "hidden") {
      window.__benchTypable = now;
    } else {
      requestAnimationFrame(typable);
    }
  };
  requestAnimationFrame(typable);
})();
"""


#: Whether the page registered a service worker, once it is active (its
#: install, and so its precache, is over), or after 60 s.
SERVICE_WORKER_INSTALLED = """
async () => {
  if (!navigator.serviceWorker) return false;
  if (!(await navigator.serviceWorker.getRegistrations()).length) return false;
  const late = new Promise((resolve) => setTimeout(() => resolve(false), 60000));
  return Promise.race([navigator.serviceWorker.ready.then(() => true), late]);
}
"""


# ---------------------------------------------------------------- bytes on the wire

@dataclass
class Wire:
    """Every request of a page and of the workers it starts, through the
    page's devtools session; workers are reached by ``Target.sendMessageToTarget``."""

    cdp: object
    throttle: dict | None
    urls: dict = field(default_factory=dict)       # request id → url
    finished: dict = field(default_factory=dict)   # request id → encoded bytes
    from_worker: set = field(default_factory=set)  # request ids fetched by a worker
    inflight: set = field(default_factory=set)
    last_event: float = 0.0
    workers: list = field(default_factory=list)    # attached worker sessions
    _ids: int = 10_000

    def start(self) -> None:
        self.cdp.on("Network.requestWillBeSent", lambda e: self._sent(e))
        self.cdp.on("Network.loadingFinished", lambda e: self._done(e))
        self.cdp.on("Network.loadingFailed", lambda e: self._failed(e))
        self.cdp.on("Network.responseReceived", lambda e: self._response(e))
        self.cdp.on("Target.attachedToTarget", self._attached)
        self.cdp.on("Target.receivedMessageFromTarget", self._message)
        self.cdp.send("Network.enable")
        self.set_throttle(self.throttle)
        self.cdp.send("Target.setAutoAttach", {"autoAttach": True, "flatten": False,
                                               "waitForDebuggerOnStart": True})

    def set_throttle(self, throttle: dict | None) -> None:
        self.throttle = throttle
        conditions = throttle or {"offline": False, "latency": 0, "downloadThroughput": -1,
                                  "uploadThroughput": -1}
        self.cdp.send("Network.emulateNetworkConditions", conditions)
        for session in self.workers:
            self._to_worker(session, "Network.emulateNetworkConditions", conditions)

    def reset(self) -> None:
        self.urls.clear()
        self.finished.clear()
        self.from_worker.clear()
        self.inflight.clear()
        self.last_event = time.monotonic()

    def total(self) -> int:
        return sum(self.finished.values())

    def worker_bytes(self) -> int:
        return sum(b for rid, b in self.finished.items() if rid in self.from_worker)

    def heaviest(self, count: int = 6) -> list[tuple[int, str]]:
        """The ``count`` largest downloads, (bytes, url); all of them when ``count`` is 0."""
        rows = sorted(((b, self.urls.get(rid, "?")) for rid, b in self.finished.items()
                       if b or rid in self.urls), reverse=True)
        return rows[:count] if count else rows

    def wait_quiet(self, page, quiet: float = QUIET_S, limit: float = 120.0) -> None:
        """Until no request has started or ended for ``quiet`` seconds."""
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            page.wait_for_timeout(200)
            if not self.inflight and time.monotonic() - self.last_event >= quiet:
                return
        print("  the network did not go quiet; still loading: "
              + ", ".join(self.urls.get(rid, rid) for rid in self.inflight), flush=True)

    # devtools events
    def _sent(self, event: dict, worker: bool = False) -> None:
        rid = event["requestId"]
        if not event["request"]["url"].startswith("http"):  # data:, blob:: no network
            return
        self.urls.setdefault(rid, event["request"]["url"])
        if worker:
            self.from_worker.add(rid)
        self.inflight.add(rid)
        self.last_event = time.monotonic()

    def _done(self, event: dict, worker: bool = False) -> None:
        rid = event["requestId"]
        # a request seen by two sessions is counted once
        self.finished[rid] = max(self.finished.get(rid, 0), int(event["encodedDataLength"]))
        if worker:
            self.from_worker.add(rid)
        self.inflight.discard(rid)
        self.last_event = time.monotonic()

    def _response(self, event: dict) -> None:
        # a worker's script is requested before its session is attached
        self.urls.setdefault(event["requestId"], event["response"]["url"])
        if event["response"].get("mimeType") == "text/event-stream":  # the live feed: open
            self.inflight.discard(event["requestId"])                 # for good

    def _failed(self, event: dict) -> None:
        self.inflight.discard(event["requestId"])
        self.last_event = time.monotonic()

    def _attached(self, event: dict) -> None:
        session = event["sessionId"]
        self.workers.append(session)
        self._to_worker(session, "Network.enable")
        if self.throttle:
            self._to_worker(session, "Network.emulateNetworkConditions", self.throttle)
        self._to_worker(session, "Runtime.runIfWaitingForDebugger")

    def _to_worker(self, session: str, method: str, params: dict | None = None) -> None:
        self._ids += 1
        message = {"id": self._ids, "method": method, "params": params or {}}
        self.cdp.send("Target.sendMessageToTarget",
                      {"sessionId": session, "message": json.dumps(message)})

    def _message(self, event: dict) -> None:
        message = json.loads(event["message"])
        method = message.get("method")
        if method == "Network.requestWillBeSent":
            self._sent(message["params"], worker=True)
        elif method == "Network.loadingFinished":
            self._done(message["params"], worker=True)
        elif method == "Network.loadingFailed":
            self._failed(message["params"])
        elif method == "Network.responseReceived":
            self._response(message["params"])


# ---------------------------------------------------------------- one load

@dataclass
class Load:
    bytes_total: int
    bytes_to_ready: int
    worker_bytes: int
    ready_s: float | None
    typed_s: float | None
    ready_by: str
    controlled: bool
    heaviest: list

    @property
    def interactive_s(self) -> float | None:
        """Ready, and the description shown: a report can be typed."""
        times = [t for t in (self.ready_s, self.typed_s) if t is not None]
        return max(times) if times else None


def measure(page, wire: Wire, url: str) -> Load:
    """Navigate to ``url`` and time it; the bytes until the network is quiet."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    wire.reset()
    page.goto(url, wait_until="commit", timeout=TIMEOUT_MS)
    page.wait_for_load_state("load", timeout=TIMEOUT_MS)
    bytes_to_ready = wire.total()
    typed = None  # the times are taken in the page; the checks here may come later
    if page.locator(DESCRIPTION).count():
        page.locator(DESCRIPTION).fill("路灯不亮", timeout=TIMEOUT_MS)  # it does take text
        typed = page.evaluate("window.__benchTypable || performance.now()") / 1000
    ready_by = "load event"
    if url.split("?")[0].split("//", 1)[-1].partition("/")[2].startswith("m/"):
        try:  # a phone page says when it is ready; one that does not: its load event
            page.wait_for_selector('body[data-ready="1"]', state="attached", timeout=15_000)
            ready_by = "data-ready"
            bytes_to_ready = wire.total()
        except PlaywrightTimeout:
            ready_by = "load event (no data-ready)"
    if ready_by == "data-ready":
        ready = page.evaluate("window.__benchReady || performance.now()") / 1000
    else:
        ready = page.evaluate(
            "performance.getEntriesByType('navigation')[0].loadEventEnd") / 1000
    wire.wait_quiet(page)
    if page.evaluate(SERVICE_WORKER_INSTALLED):  # its precache counts, however late it began
        wire.wait_quiet(page)
    controlled = page.evaluate("!!(navigator.serviceWorker && navigator.serviceWorker.controller)")
    return Load(wire.total(), bytes_to_ready, wire.worker_bytes(), ready, typed, ready_by,
                controlled, wire.heaviest(0))


def new_context(browser, options: dict, *, state=None, position=None):
    extra = {}
    if position:
        extra = {"geolocation": {"latitude": position[1], "longitude": position[0],
                                 "accuracy": 8}, "permissions": ["geolocation"]}
    context = browser.new_context(**options, **extra, storage_state=state,
                                  service_workers="allow")
    context.set_default_timeout(TIMEOUT_MS)
    context.add_init_script(script=READY_OBSERVER)
    return context


def log_in(browser, base: str, options: dict, username: str, password: str, position):
    """Log in through the form in a throwaway context; its cookies for the next ones."""
    context = new_context(browser, options, position=position)
    page = context.new_page()
    page.goto(f"{base}/login/?next=/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("form.login-form button[type=submit]")
    page.wait_for_url(lambda u: "/login/" not in u)
    state = context.storage_state()
    context.close()
    return state


def cold_and_warm(browser, base: str, url: str, options: dict, state, position,
                  throttle: dict | None, warm: bool) -> tuple[Load, Load | None, str]:
    """One cold load in a fresh context, then (``warm``) the same page served
    by the service worker the first load installed."""
    context = new_context(browser, options, state=state, position=position)
    try:
        page = context.new_page()
        wire = Wire(context.new_cdp_session(page), throttle)
        wire.start()
        cold = measure(page, wire, base + url)
        if not warm:
            return cold, None, ""
        note = ("" if page.evaluate(SERVICE_WORKER_INSTALLED) else
                "no service worker active after the first load: warm is the HTTP cache only")
        return cold, measure(page, wire, base + url), note
    finally:
        context.close()


# ---------------------------------------------------------------- the grid mesh

def wire_size(url: str, headers: dict) -> tuple[int, int, set[str]]:
    """(status, bytes on the wire with gzip, the features' codes) of a GeoJSON answer."""
    request = urllib.request.Request(url, headers={**headers, "Accept-Encoding": "gzip"})
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            body, status = response.read(), response.status
            encoding = response.headers.get("Content-Encoding")
    except urllib.error.HTTPError as error:
        return error.code, 0, set()
    data = gzip.decompress(body) if encoding == "gzip" else body
    try:
        features = json.loads(data).get("features", [])
    except ValueError:
        features = []
    return status, len(body), {str((f.get("properties") or {}).get("code", f.get("id")))
                               for f in features}


# ---------------------------------------------------------------- the run

def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def summary(loads: list[Load]) -> dict:
    return {"bytes": median([x.bytes_total for x in loads]),
            "bytes_to_ready": median([x.bytes_to_ready for x in loads]),
            "worker_bytes": median([x.worker_bytes for x in loads]),
            "ready": median([x.ready_s for x in loads]),
            "typed": median([x.typed_s for x in loads]),
            "interactive": median([x.interactive_s for x in loads]),
            "ready_by": loads[0].ready_by,
            "controlled": all(x.controlled for x in loads)}


def kb(value) -> str:
    return "–" if value is None else f"{value / 1024:,.1f} KB"


def sec(value) -> str:
    return "–" if value is None else f"{value:.2f} s"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", default="/m/report/", help="the page measured (/m/report/)")
    parser.add_argument("--user", default="worker_full",
                        help="who opens it (worker_full, the demo's full-time grid worker)")
    parser.add_argument("--runs", type=int, default=3, help="loads of each kind (median; 3)")
    parser.add_argument("--keep-db", nargs="?", const=str(DEFAULT_REUSE_DIR), metavar="DIR",
                        help=f"keep the demo in DIR (default {DEFAULT_REUSE_DIR}) and reuse it "
                        "next time, instead of building it in a temporary directory")
    parser.add_argument("--mesh-zoom", type=int, default=9,
                        help="zoom of the city mesh compared (9: the desk map's city view)")
    parser.add_argument("--verbose", action="store_true",
                        help="list every download of every measured load")
    parser.add_argument("--no-baseline", action="store_true",
                        help="skip the unthrottled and desktop baselines")
    args = parser.parse_args()
    if not CHROMIUM.exists():
        print("Chromium is missing: run scripts/install-browser.sh", file=sys.stderr)
        return 1
    data_dir = demo_database(args.keep_db).data_dir

    import shapely

    from shanzhi.accounts.models import User
    from shanzhi.accounts.services import token_create
    from shanzhi.demo.load import CITY_CODE, DEMO_PASSWORD

    user = User.objects.get(username=args.user)
    worker = getattr(user, "grid_worker", None)
    grid = worker.grids.order_by("code").first() if worker else None
    own_grids = set(worker.grids.values_list("code", flat=True)) if worker else set()
    if grid is not None:
        point = shapely.from_wkb(bytes(grid.geometry)).representative_point()
        position = (round(point.x, 6), round(point.y, 6))
        where = f"{grid.code} {grid.name}"
    else:  # not a grid worker: the middle of 姑苏区's first grid will do
        position, where = (120.6196, 31.3170), "姑苏区"
    admin_token = token_create(username="admin", name="mobile benchmark")
    from django.db import connections

    connections.close_all()

    from playwright.sync_api import sync_playwright

    server, port = start_server(data_dir, "sqlite", 1)
    base = f"http://127.0.0.1:{port}"
    print(f"serving on {base}; {args.user} at {position[0]}, {position[1]} (grid {where}); "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs", flush=True)
    ok = True
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM),
                                                 args=CHROMIUM_ARGS)
            state = log_in(browser, base, PHONE, args.user, DEMO_PASSWORD, position)
            probe = urllib.request.Request(base + args.url, headers={"Cookie": "; ".join(
                f"{c['name']}={c['value']}" for c in state["cookies"])})
            try:
                urllib.request.urlopen(probe, timeout=60).close()
            except urllib.error.HTTPError as error:
                print(f"{args.url} answers {error.code} for {args.user}: nothing to measure",
                      file=sys.stderr)
                return 1
            cold, warm, notes, first = [], [], set(), None
            for run in range(args.runs):
                c, w, note = cold_and_warm(browser, base, args.url, PHONE, state, position,
                                           SLOW_3G, warm=True)
                first = first or c
                cold.append(c)
                warm.append(w)
                if note:
                    notes.add(note)
                if args.verbose:
                    for label, load in (("cold", c), ("warm", w)):
                        for size, url in load.heaviest:
                            print(f"    {label} {size:>9,} B  {url.removeprefix(base)}")
                print(f"  run {run + 1}: cold {kb(c.bytes_total)}, typable {sec(c.typed_s)}, "
                      f"ready {sec(c.ready_s)}; warm {kb(w.bytes_total)}, "
                      f"typable {sec(w.typed_s)}, ready {sec(w.ready_s)}"
                      f"{'' if w.controlled else ' (not from a service worker)'}", flush=True)
            rows = [("phone, slow 3G, cold", summary(cold)),
                    ("phone, slow 3G, warm", summary(warm))]
            if not args.no_baseline:
                fast = [cold_and_warm(browser, base, args.url, PHONE, state, position, None,
                                      warm=False)[0] for _ in range(args.runs)]
                rows.append(("phone, no throttling, cold", summary(fast)))
                desk_state = log_in(browser, base, DESKTOP, "city_operator", DEMO_PASSWORD,
                                    None)
                desk = [cold_and_warm(browser, base, "/incidents/new/", DESKTOP, desk_state,
                                      None, SLOW_3G, warm=False)[0]
                        for _ in range(max(1, min(args.runs, 2)))]
                rows.append(("desk /incidents/new/ (city_operator), slow 3G, cold",
                             summary(desk)))
            cookie = "; ".join(f"{c['name']}={c['value']}" for c in state["cookies"])
            mine = wire_size(base + "/m/grids.geojson", {"Cookie": cookie})
            city = wire_size(
                f"{base}/api/v1/geo/regions/{CITY_CODE}/grids.geojson"
                f"?zoom={args.mesh_zoom}&slim=true", {"Authorization": f"Bearer {admin_token}"})
            browser.close()
    finally:
        stop_server(server)

    print(f"\n{args.url} as {args.user}; slow 3G = {SLOW_3G['latency']} ms RTT, "
          f"{SLOW_3G['downloadThroughput'] * 8 // 1000} kbit/s down and up; "
          f"median of {args.runs}; load average now {os.getloadavg()[0]:.1f}\n")
    print("bytes: on the wire until the network is quiet; by ready: of which done when the "
          "page was loaded and ready;\nby workers: of which the service worker's own fetches."
          "  typable: the first frame showing the description;\ninteractive: typable and "
          "ready. Times from the start of the navigation.\n")
    header = (f"{'load':<52}{'bytes':>11}{'by ready':>11}{'by workers':>12}"
              f"{'typable':>9}{'ready':>9}{'interactive':>13}  ready by")
    print(header)
    print("-" * len(header))
    for name, s in rows:
        served = ", NOT from the service worker" if "warm" in name and not s["controlled"] else ""
        print(f"{name:<52}{kb(s['bytes']):>11}{kb(s['bytes_to_ready']):>11}"
              f"{kb(s['worker_bytes']):>12}{sec(s['typed']):>9}{sec(s['ready']):>9}"
              f"{sec(s['interactive']):>13}  {s['ready_by']}{served}")
    print()
    figures = dict(rows)
    c, w = figures["phone, slow 3G, cold"], figures["phone, slow 3G, warm"]
    checks = [
        (f"cold bytes ≤ {TARGET_COLD_BYTES // 1024} KB", kb(c["bytes"]),
         c["bytes"] is not None and c["bytes"] <= TARGET_COLD_BYTES),
        (f"cold to interactive ≤ {TARGET_COLD_S:.0f} s", sec(c["interactive"]),
         c["interactive"] is not None and c["interactive"] <= TARGET_COLD_S),
        (f"warm to interactive ≤ {TARGET_WARM_S:.0f} s, from the service worker",
         sec(w["interactive"]) + ("" if w["controlled"] else ", not controlled"),
         w["interactive"] is not None and w["interactive"] <= TARGET_WARM_S
         and w["controlled"]),
    ]
    for name, figure, passed in checks:
        ok &= passed
        print(f"{'PASS' if passed else 'FAIL'}  {name}: {figure}")
    if "phone, no throttling, cold" in figures:
        f = figures["phone, no throttling, cold"]
        if f["interactive"] and c["interactive"]:
            print(f"\nslow 3G / no throttling, cold to interactive: "
                  f"{c['interactive'] / f['interactive']:.1f}×")
        d = figures["desk /incidents/new/ (city_operator), slow 3G, cold"]
        if d["bytes"] and c["bytes"]:
            print(f"phone page / desk intake page, slow 3G cold: bytes "
                  f"{c['bytes'] / d['bytes']:.2f}×, to interactive "
                  f"{c['interactive'] / d['interactive']:.2f}×")
    for note in sorted(notes):
        print(f"note: {note}")
    print("\nheaviest downloads of the first cold load (bytes on the wire):")
    for size, url in first.heaviest[:8]:
        print(f"  {size / 1024:>8,.1f} KB  {url.removeprefix(base)}")

    print(f"\ngrid mesh, gzip on the wire: /m/grids.geojson as {args.user}: "
          f"{len(mine[2]):,} grids, {kb(mine[1])} (HTTP {mine[0]}); the city's mesh at zoom "
          f"{args.mesh_zoom} as admin: {len(city[2]):,} grids, {kb(city[1])} "
          f"(HTTP {city[0]})")
    # exactly the user's own grids (none for who is not a grid worker)
    mesh_ok = mine[0] == 200 and mine[2] == own_grids and len(mine[2]) < len(city[2])
    if mine[1] and city[1]:
        print(f"the worker downloads {mine[1] / city[1]:.2%} of the city mesh's bytes")
    print(f"{'PASS' if mesh_ok else 'FAIL'}  {args.user} downloads their own grids and no "
          f"other ({len(own_grids)} assigned)")
    return 0 if ok and mesh_ok else 1


if __name__ == "__main__":
    sys.exit(main())
