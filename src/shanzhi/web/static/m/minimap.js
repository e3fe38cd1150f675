/* A small SVG map of the worker's own grids (/m/grids.geojson, WGS-84): the
   grids, my position with its accuracy circle, a placed point, a patrol
   track. No tiles and no map library: the phone pages stay light.

   window.shanzhiMinimap.create(element, {grids, onTap}) → map with
     .ready (Promise of the GeoJSON), .setPosition(lng, lat, accuracyM),
     .setPoint(lng, lat), .setTrack([[lng, lat], …]), .gridAt(lng, lat).
   An element with data-minimap and data-locate="1" draws itself and shows the
   phone's position (the home page). */
(function () {
  "use strict";

  const NS = "http://www.w3.org/2000/svg";
  const W = 400;
  const H = 300;
  const PAD = 14;
  const M_PER_DEG = 111320;

  function el(name, attrs) {
    const node = document.createElementNS(NS, name);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
    return node;
  }

  function rings(geometry) {
    if (!geometry) return [];
    if (geometry.type === "Polygon") return [geometry.coordinates];
    if (geometry.type === "MultiPolygon") return geometry.coordinates;
    return [];
  }

  // even-odd ray casting over a polygon's rings (holes included)
  function inRing(ring, x, y) {
    let inside = false;
    for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
      const [xi, yi] = ring[i];
      const [xj, yj] = ring[j];
      if ((yi > y) !== (yj > y) && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
    }
    return inside;
  }

  function contains(feature, lng, lat) {
    return rings(feature.geometry).some((poly) => poly.reduce((acc, ring) => acc !== inRing(ring, lng, lat), false));
  }

  function create(host, options) {
    const opts = options || {};
    const svg = el("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", preserveAspectRatio: "xMidYMid meet" });
    const gGrids = el("g");
    const gTrack = el("g");
    const gMe = el("g");
    svg.append(gGrids, gTrack, gMe);
    host.textContent = "";
    host.append(svg);
    const empty = document.createElement("div");
    empty.className = "m-map-empty";
    empty.hidden = true;
    host.append(empty);

    let features = [];
    let box = null; // [minLng, minLat, maxLng, maxLat]
    let scale = 1;
    let kx = 1;
    let position = null;
    let point = null;
    let track = [];

    function fit() {
      const pts = [];
      for (const f of features) for (const poly of rings(f.geometry)) for (const p of poly[0]) pts.push(p);
      if (position) pts.push([position.lng, position.lat]);
      if (point) pts.push([point.lng, point.lat]);
      if (!pts.length) { box = null; return; }
      let [a, b, c, d] = [Infinity, Infinity, -Infinity, -Infinity];
      for (const [x, y] of pts) { a = Math.min(a, x); b = Math.min(b, y); c = Math.max(c, x); d = Math.max(d, y); }
      const min = 0.002; // about 200 m: a lone point still has a scale
      if (c - a < min) { a -= min / 2; c += min / 2; }
      if (d - b < min) { b -= min / 2; d += min / 2; }
      box = [a, b, c, d];
      kx = Math.cos(((b + d) / 2) * Math.PI / 180);
      scale = Math.min((W - 2 * PAD) / ((c - a) * kx), (H - 2 * PAD) / (d - b));
    }

    function xy(lng, lat) {
      const [a, b, c, d] = box;
      const ox = (W - (c - a) * kx * scale) / 2;
      const oy = (H - (d - b) * scale) / 2;
      return [ox + (lng - a) * kx * scale, H - oy - (lat - b) * scale];
    }

    function lngLat(x, y) {
      const [a, b, c, d] = box;
      const ox = (W - (c - a) * kx * scale) / 2;
      const oy = (H - (d - b) * scale) / 2;
      return [a + (x - ox) / (kx * scale), b + (H - oy - y) / scale];
    }

    function pathOf(poly) {
      return poly.map((ring) => ring.map(([x, y], i) => {
        const [px, py] = xy(x, y);
        return `${i ? "L" : "M"}${px.toFixed(1)} ${py.toFixed(1)}`;
      }).join("") + "Z").join("");
    }

    function draw() {
      fit();
      gGrids.textContent = "";
      gTrack.textContent = "";
      gMe.textContent = "";
      empty.hidden = !!box;
      if (!box) { empty.textContent = host.dataset.empty || ""; return; }
      for (const f of features) {
        for (const poly of rings(f.geometry)) {
          const p = el("path", { d: pathOf(poly), class: "grid", "fill-rule": "evenodd" });
          const title = el("title");
          title.textContent = f.properties.name;
          p.append(title);
          gGrids.append(p);
        }
        const ring = rings(f.geometry)[0];
        if (ring) {
          const xs = ring[0].map((q) => q[0]);
          const ys = ring[0].map((q) => q[1]);
          const [cx, cy] = xy((Math.min(...xs) + Math.max(...xs)) / 2, (Math.min(...ys) + Math.max(...ys)) / 2);
          const label = el("text", { x: cx.toFixed(1), y: cy.toFixed(1), class: "grid-label", "text-anchor": "middle" });
          label.textContent = f.properties.name;
          gGrids.append(label);
        }
      }
      if (track.length > 1) {
        gTrack.append(el("polyline", { class: "track", points: track.map(([x, y]) => xy(x, y).map((v) => v.toFixed(1)).join(",")).join(" ") }));
      }
      if (position) {
        const [px, py] = xy(position.lng, position.lat);
        if (position.accuracy) {
          const r = (position.accuracy / M_PER_DEG) * scale;
          gMe.append(el("circle", { cx: px.toFixed(1), cy: py.toFixed(1), r: Math.max(2, Math.min(r, W)).toFixed(1), class: "acc" }));
        }
        if (!point) gMe.append(el("circle", { cx: px.toFixed(1), cy: py.toFixed(1), r: 7, class: "me" }));
      }
      if (point) {
        const [px, py] = xy(point.lng, point.lat);
        gMe.append(el("path", { d: `M${px.toFixed(1)} ${py.toFixed(1)}l-9 -20a10 10 0 1 1 18 0z`, class: "me" }));
      }
    }

    svg.addEventListener("click", (event) => {
      if (!box || !opts.onTap) return;
      const rect = svg.getBoundingClientRect();
      // the viewBox is letterboxed inside the element (meet): undo it
      const s = Math.min(rect.width / W, rect.height / H);
      const x = (event.clientX - rect.left - (rect.width - W * s) / 2) / s;
      const y = (event.clientY - rect.top - (rect.height - H * s) / 2) / s;
      const [lng, lat] = lngLat(x, y);
      opts.onTap(Number(lng.toFixed(6)), Number(lat.toFixed(6)));
    });

    const ready = (opts.grids ? fetch(opts.grids, { credentials: "same-origin" }).then((r) => {
      if (!r.ok) throw new Error(String(r.status));
      return r.json();
    }) : Promise.resolve({ features: [] })).then((data) => {
      features = data.features || [];
      draw();
      return data;
    }).catch(() => { draw(); return { features: [] }; });

    return {
      ready,
      setPosition(lng, lat, accuracy) { position = lng === null ? null : { lng, lat, accuracy }; draw(); },
      setPoint(lng, lat) { point = lng === null ? null : { lng, lat }; draw(); },
      setTrack(points) { track = points || []; draw(); },
      gridAt(lng, lat) { return features.find((f) => contains(f, lng, lat)) || null; },
      get features() { return features; },
    };
  }

  window.shanzhiMinimap = { create, contains };

  // the home page: my grids and where I am
  for (const host of document.querySelectorAll("[data-minimap][data-locate]")) {
    const map = create(host, { grids: host.dataset.grids });
    const out = document.querySelector("[data-minimap-pos]");
    if (!navigator.geolocation) continue;
    navigator.geolocation.getCurrentPosition((pos) => {
      map.setPosition(pos.coords.longitude, pos.coords.latitude, pos.coords.accuracy);
      if (out) out.textContent = (out.dataset.format || "± %(m)s m").replace("%(m)s", Math.round(pos.coords.accuracy));
    }, () => { if (out) out.textContent = ""; }, { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 });
  }
})();
