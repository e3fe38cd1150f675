/* 巡查: start and stop a patrol, record the track while the page is open
   (one position every data-every seconds), check in with a note and photos.
   Every write is an outbox item, in order (start, points, check-ins, stop),
   so a patrol walked without network arrives whole when it returns. The
   running patrol and the points not yet handed to the outbox are kept in
   localStorage: a reload or a closed tab loses nothing. */
(function () {
  "use strict";

  const root = document.getElementById("patrol");
  if (!root) return;
  const $ = (name) => root.querySelector(`[data-p="${name}"]`);
  const config = JSON.parse(document.getElementById("patrol-config").textContent);
  const T = config.messages;
  const EVERY_MS = Number(root.dataset.every || config.every || 15) * 1000;
  const BATCH = 20;            // points per outbox item
  const BATCH_MS = 60000;      // or at least once a minute
  const KEY = "shanzhi.patrol";
  const outbox = window.shanzhiOutbox;
  const fmt = (text, values) => text.replace(/%\((\w+)\)s/g, (_, k) => String(values[k] ?? ""));
  const checkin = document.getElementById("checkin-form");

  let run = load();
  let watch = null;
  let tick = null;
  const map = window.shanzhiMinimap.create($("map"), { grids: config.grids });

  function load() {
    try { return JSON.parse(localStorage.getItem(KEY)) || null; } catch (e) { return null; }
  }
  function save() {
    if (run) localStorage.setItem(KEY, JSON.stringify(run));
    else localStorage.removeItem(KEY);
  }
  function uuid() {
    return crypto.randomUUID ? crypto.randomUUID() : String(Date.now()) + Math.random().toString(16).slice(2);
  }

  function metres(a, b) {
    const r = 6371008.8;
    const rad = Math.PI / 180;
    const dLat = (b[1] - a[1]) * rad;
    const dLng = (b[0] - a[0]) * rad;
    const h = Math.sin(dLat / 2) ** 2 + Math.cos(a[1] * rad) * Math.cos(b[1] * rad) * Math.sin(dLng / 2) ** 2;
    return 2 * r * Math.asin(Math.sqrt(h));
  }

  function show() {
    const running = !!run;
    $("start").hidden = running;
    $("stop").hidden = !running;
    checkin.hidden = !running;
    $("state").textContent = running ? T.running : T.idle;
    const d = running ? run.distance : 0;
    $("distance").textContent = d >= 1000 ? `${(d / 1000).toFixed(2)} km` : `${Math.round(d)} m`;
    const s = running ? Math.max(0, Math.round((Date.now() - Date.parse(run.startedAt)) / 1000)) : 0;
    const hh = Math.floor(s / 3600);
    const mm = Math.floor((s % 3600) / 60);
    const ss = String(s % 60).padStart(2, "0");
    $("duration").textContent = hh ? `${hh}:${String(mm).padStart(2, "0")}:${ss}` : `${mm}:${ss}`;
    if (running) {
      map.setTrack(run.track);
      checkin.setAttribute("action", `${config.api}/${run.id}/checkins`);
    }
  }

  // hand the buffered points to the outbox (one item per batch). They leave
  // the buffer only once the outbox holds them: a page closed in between sends
  // them again, and the server keeps a point once (by its instant).
  let handing = null;
  function handOver(force) {
    if (!run || !run.buffer.length) return handing || Promise.resolve();
    const due = force || run.buffer.length >= BATCH || Date.now() - (run.handedAt || 0) > BATCH_MS;
    if (!due || handing) return handing || Promise.resolve();
    const current = run;
    const points = current.buffer.slice();
    handing = outbox.add({ url: `${config.api}/${current.id}/points`, json: { points, crs: "wgs84" },
      label: fmt(T.points, { n: points.length }), kind: "patrol" }).then(() => {
      current.buffer.splice(0, points.length);
      current.handedAt = Date.now();
      if (run === current) save();
      outbox.flush();
    }).finally(() => { handing = null; });
    return handing;
  }

  function onPosition(pos) {
    const c = pos.coords;
    const here = [Number(c.longitude.toFixed(6)), Number(c.latitude.toFixed(6))];
    $("pos").textContent = `${here[0]}, ${here[1]} ` + fmt(T.accuracy, { m: Math.round(c.accuracy) });
    map.setPosition(here[0], here[1], c.accuracy);
    root.dataset.lng = here[0];
    root.dataset.lat = here[1];
    if (!run) return;
    const now = pos.timestamp || Date.now();
    if (run.lastAt && now - run.lastAt < EVERY_MS) return;
    if (run.track.length) run.distance += metres(run.track[run.track.length - 1], here);
    run.lastAt = now;
    run.track.push(here);
    if (run.track.length > 2000) run.track.splice(0, run.track.length - 2000);
    run.buffer.push({ at: new Date(now).toISOString(), lng: here[0], lat: here[1], accuracy: Math.round(c.accuracy * 10) / 10 });
    save();
    show();
    handOver(false);
  }

  function watchOn() {
    if (!navigator.geolocation) { $("pos").textContent = T.noGeo; return; }
    if (watch === null) {
      watch = navigator.geolocation.watchPosition(onPosition, () => { $("pos").textContent = T.noGeo; },
        { enableHighAccuracy: true, maximumAge: 5000, timeout: 30000 });
    }
    if (tick === null) tick = setInterval(() => { show(); handOver(false); }, 1000);
  }

  async function start() {
    const startedAt = new Date().toISOString();
    run = { id: uuid(), startedAt, distance: 0, track: [], buffer: [], lastAt: 0, handedAt: Date.now() };
    save();
    const body = { id: run.id, started_at: startedAt, crs: "wgs84" };
    if (root.dataset.lng) {
      const lng = Number(root.dataset.lng);
      const lat = Number(root.dataset.lat);
      // a start point outside my grids is refused: then the track alone tells where
      if (map.gridAt(lng, lat)) Object.assign(body, { lng, lat });
    }
    await outbox.add({ url: config.api, json: body, label: T.start, kind: "patrol" });
    outbox.flush();
    show();
    watchOn();
  }

  async function stop() {
    if (!run) return;
    await handOver(true);
    await handOver(true);  // the points that came in while the first batch was handed over
    // the stop is in the outbox before the patrol is forgotten here: a page
    // closed in between leaves a running patrol to stop again, never a lost stop
    await outbox.add({ url: `${config.api}/${run.id}/stop`, json: { ended_at: new Date().toISOString() },
      label: T.stop, kind: "patrol" });
    run = null;
    save();
    show();
    await outbox.flush();
    window.location.reload();
  }

  $("start").addEventListener("click", start);
  $("stop").addEventListener("click", stop);

  // the check-in's id, instant and place are set as it is sent (before outbox.js reads the form)
  window.addEventListener("submit", (event) => {
    if (event.target !== checkin || !run) return;
    checkin.querySelector('[data-c="id"]').value = uuid();
    checkin.querySelector('[data-c="at"]').value = new Date().toISOString();
    checkin.querySelector('[data-c="lng"]').value = root.dataset.lng || "";
    checkin.querySelector('[data-c="lat"]').value = root.dataset.lat || "";
  }, true);
  function clearCheckin(event) {
    if (event.type === "outbox:sent") event.preventDefault(); // stay on the page
    checkin.reset();
    const box = checkin.querySelector("[data-previews]");
    if (box) box.textContent = "";
  }
  checkin.addEventListener("outbox:sent", clearCheckin);
  checkin.addEventListener("outbox:queued", clearCheckin);
  window.addEventListener("pagehide", () => { handOver(true); });

  show();
  watchOn();
  document.body.dataset.ready = "1";
})();
