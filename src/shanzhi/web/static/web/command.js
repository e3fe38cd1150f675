// The command centre: figures from /api/v1/command/summary, open incidents
// from /api/v1/command/points, boundaries from /api/v1/geo/… (cached,
// simplified), and the live feed from /api/v1/feed (Server-Sent Events).
// Clicking an area (or its name) drills into it; clicking a cluster zooms to
// it; the breadcrumb climbs back up. Text on the map (names, cluster counts)
// is drawn by MapLibre from the local fonts: the style has no glyphs URL.
// The KPI tiles link to the case desk's list of what they count (the filters
// come from the page's config, web/command.py's TILE_FILTERS).
//
// For tests: window.__commandReady is true once the figures and the map of
// the current region are shown; window.__feedCount counts feed items shown.

import { baseStyle } from "./basemap.js";

const FONT = ["Noto Sans CJK SC"];
const LOCAL_FONTS = "Noto Sans CJK SC, Source Han Sans SC, Microsoft YaHei, PingFang SC, sans-serif";
const EMPTY = { type: "FeatureCollection", features: [] };
const SHADES = ["#dfe9f3", "#f6d28b", "#ee9a4d", "#d9472b"];
const REFRESH_MS = 4000;
// Tooltips drawn on the chart's canvas: the HTML ones are built with inline
// style attributes, which the Content-Security-Policy refuses.
const TOOLTIP = { renderMode: "richText" };

export function startCommandCentre(maplibregl, echarts, config) {
  const app = new CommandCentre(maplibregl, echarts, config);
  window.__command = app;
  app.start().catch((error) => app.fail(error));
  return app;
}

const fmt = (template, values) => template.replace(/%\((\w+)\)s/g, (_, k) => values[k]);

class CommandCentre {
  constructor(maplibregl, echarts, config) {
    this.lib = maplibregl;
    this.echarts = echarts;
    this.c = config;
    this.t = config.messages;
    this.big = config.big;
    this.region = config.region || "";
    this.el = (id) => document.getElementById(id);
    this.charts = {};
    this.refreshTimer = null;
    window.__commandReady = false;
    window.__feedCount = 0;
  }

  async get(path) {
    const response = await fetch(this.c.apiBase + path, { credentials: "same-origin",
                                                         headers: { Accept: "application/json" } });
    if (response.status === 401) { window.location = this.c.loginUrl; throw new Error("401"); }
    if (!response.ok) throw new Error(`${path}: ${response.status}`);
    return response.json();
  }

  fail(error) {
    console.error(error);
    this.el("cc-points").textContent = this.t.loadFailed;
  }

  rem() { return parseFloat(getComputedStyle(document.documentElement).fontSize) || 14; }

  async start() {
    this.clock();
    setInterval(() => this.clock(), 1000);
    this.map = new this.lib.Map({
      container: "cc-map",
      style: baseStyle(this.c.tileUrl, { background: this.big ? "#0b1a2e" : "#eef2f5",
                                         opacity: 0.8 }),
      center: [120.6, 31.3], zoom: 8, maxZoom: 18,
      localIdeographFontFamily: LOCAL_FONTS,
      attributionControl: false, dragRotate: false, pitchWithRotate: false,
    });
    window.__map = this.map;
    this.map.addControl(new this.lib.NavigationControl({ showCompass: false }), "top-right");
    await new Promise((resolve) => this.map.on("load", resolve));
    this.addLayers();
    for (const id of ["trend", "categories", "channels"]) {
      this.charts[id] = this.echarts.init(this.el(`chart-${id}`), null, { renderer: "canvas" });
    }
    window.addEventListener("resize", () => Object.values(this.charts).forEach((c) => c.resize()));
    this.listen();
    await this.open(this.region, true);
  }

  clock() {
    const now = new Date();
    this.el("cc-clock").textContent = now.toLocaleString("zh-CN", { hour12: false });
  }

  addLayers() {
    const map = this.map;
    map.addSource("areas", { type: "geojson", data: EMPTY, promoteId: "code" });
    map.addSource("labels", { type: "geojson", data: EMPTY });
    map.addSource("points", { type: "geojson", data: EMPTY, cluster: true, clusterRadius: 40,
                              clusterMaxZoom: 15,
                              clusterProperties: { red: ["+", ["case", ["==", ["get", "light"], "red"], 1, 0]] } });
    const line = this.big ? "#6fa8dc" : "#ffffff";
    map.addLayer({ id: "areas-fill", type: "fill", source: "areas", paint: {
      "fill-color": ["step", ["coalesce", ["get", "overdue"], 0], SHADES[0], 1, SHADES[1], 5,
                     SHADES[2], 20, SHADES[3]],
      "fill-opacity": ["case", ["boolean", ["feature-state", "hover"], false], 0.95, 0.78] } });
    map.addLayer({ id: "areas-line", type: "line", source: "areas",
                   paint: { "line-color": line, "line-width": 1.2 } });
    const k = this.big ? 1.8 : 1;
    map.addLayer({ id: "clusters", type: "circle", source: "points", filter: ["has", "point_count"],
                   paint: { "circle-color": ["case", [">", ["get", "red"], 0], "#c92a2a", "#1c7ed6"],
                            "circle-opacity": 0.8, "circle-stroke-color": "#fff",
                            "circle-stroke-width": 1.5 * k,
                            "circle-radius": ["*", k, ["step", ["get", "point_count"], 9, 10, 13, 50, 18, 200, 24]] } });
    map.addLayer({ id: "point", type: "circle", source: "points", filter: ["!", ["has", "point_count"]],
                   paint: { "circle-color": ["match", ["get", "light"], "red", "#e03131",
                                             "yellow", "#f59f00", "#2f9e44"],
                            "circle-radius": 5 * k, "circle-stroke-color": "#fff",
                            "circle-stroke-width": 1.2 * k } });
    // Counts on the clusters: always drawn, and never pushing a name away.
    map.addLayer({ id: "cluster-count", type: "symbol", source: "points", filter: ["has", "point_count"],
                   layout: { "text-field": ["get", "point_count_abbreviated"], "text-font": FONT,
                             "text-size": 12 * k, "text-allow-overlap": true,
                             "text-ignore-placement": true },
                   paint: { "text-color": "#ffffff" } });
    // The names with their figures, above the clusters (drawn last, placed first).
    const size = this.big ? 30 : 13;
    map.addLayer({ id: "areas-labels", type: "symbol", source: "labels", layout: {
      "text-field": ["get", "label"], "text-font": FONT, "text-size": size,
      "text-max-width": 12, "text-allow-overlap": false },
      paint: { "text-color": this.big ? "#e6f0ff" : "#102a43",
               "text-halo-color": this.big ? "#0b1a2e" : "#ffffff",
               "text-halo-width": this.big ? 2.6 : 1.8 } });
    let hovered = null;
    map.on("mousemove", "areas-fill", (e) => {
      const f = e.features && e.features[0];
      if (!f) return;
      if (hovered !== null) map.setFeatureState({ source: "areas", id: hovered }, { hover: false });
      hovered = f.id;
      map.setFeatureState({ source: "areas", id: hovered }, { hover: true });
      map.getCanvas().style.cursor = "pointer";
    });
    map.on("mouseenter", "areas-labels", () => { map.getCanvas().style.cursor = "pointer"; });
    map.on("mouseenter", "clusters", () => { map.getCanvas().style.cursor = "zoom-in"; });
    map.on("mouseleave", "clusters", () => { map.getCanvas().style.cursor = ""; });
    map.on("mouseleave", "areas-fill", () => {
      if (hovered !== null) map.setFeatureState({ source: "areas", id: hovered }, { hover: false });
      hovered = null;
      map.getCanvas().style.cursor = "";
    });
    map.on("click", (e) => {
      // Top first: a point, a name (drawn above the clusters), a cluster, an area.
      const hits = map.queryRenderedFeatures(e.point, { layers: ["point", "areas-labels", "clusters",
                                                                 "areas-fill"] });
      if (!hits.length) return;
      let f = hits[0];
      if (f.layer.id === "point") return this.popup(f);
      if (f.layer.id === "areas-labels") {
        f = this.areaByCode(f.properties.code);
        if (!f) return;
      }
      if (f.layer.id === "clusters") {
        return map.getSource("points").getClusterExpansionZoom(f.properties.cluster_id)
          .then((zoom) => map.easeTo({ center: f.geometry.coordinates, zoom }));
      }
      if (this.kind === "region") this.open(f.properties.code);
      else this.areaPopup(f, e.lngLat);
    });
  }

  areaByCode(code) {
    const f = (this.painted || []).find((a) => a.properties.code === code);
    return f && { ...f, layer: { id: "areas-fill" } };
  }

  popup(f) {
    const p = f.properties;
    const href = this.c.incidentUrl.replace("NUMBER", encodeURIComponent(p.number));
    const box = document.createElement("div");
    box.className = "cc-popup";
    box.innerHTML = `<strong></strong><span class="cc-state cc-state-${p.light}"></span><p></p><a></a>`;
    box.querySelector("strong").textContent = p.number;
    box.querySelector("span").textContent = p.state;
    box.querySelector("p").textContent = p.category || this.t.unclassified;
    const a = box.querySelector("a");
    a.href = href;
    a.textContent = this.t.open_incident;
    new this.lib.Popup({ closeButton: true }).setLngLat(f.geometry.coordinates).setDOMContent(box)
      .addTo(this.map);
  }

  areaPopup(f, lngLat) {
    const p = f.properties;
    const box = document.createElement("div");
    box.className = "cc-popup";
    box.innerHTML = "<strong></strong><p></p>";
    box.querySelector("strong").textContent = p.name;
    box.querySelector("p").textContent =
      `${this.t.open} ${p.open ?? 0} · ${this.t.overdue} ${p.overdue ?? 0} · ${this.t.nearDue} ${p.near_due ?? 0}`;
    new this.lib.Popup().setLngLat(lngLat).setDOMContent(box).addTo(this.map);
  }

  // ------------------------------------------------------------------ navigation

  async open(code, first = false) {
    window.__commandReady = false;
    this.region = code || "";
    const q = this.region ? `?region=${encodeURIComponent(this.region)}` : "";
    if (!first) {
      const url = new URL(window.location);
      if (this.region) url.searchParams.set("region", this.region); else url.searchParams.delete("region");
      history.replaceState(null, "", url);
    }
    const [summary, points] = await Promise.all([this.get(`command/summary${q}`),
                                                 this.get(`command/points${q}`)]);
    this.summary = summary;
    this.kind = summary.areas.kind;
    this.show(summary);
    this.showPoints(points);
    await this.showMap(summary);
    window.__commandReady = true;
  }

  async showMap(summary) {
    const region = summary.region;
    let detail = null;
    if (region) {
      detail = await this.get(`geo/regions/${encodeURIComponent(region.code)}`);
      this.crumbs(detail);
      if (detail.bbox) this.map.fitBounds(detail.bbox, { padding: this.padding(), duration: 0 });
      const zoom = Math.max(8, Math.round(this.map.getZoom()) + 1);
      const shapes = await this.get(`geo/regions/${encodeURIComponent(region.code)}/children.geojson?zoom=${zoom}`);
      this.paint(shapes, summary.areas.items);
    } else {
      this.crumbs(null);
      const territory = await this.get("geo/territory");
      if (territory.bbox) this.map.fitBounds(territory.bbox, { padding: this.padding(), duration: 0 });
      this.paint(EMPTY, []);
    }
    await new Promise((resolve) => (this.map.loaded() ? resolve() : this.map.once("idle", resolve)));
  }

  // Room around the fitted area: the legend covers the map's foot.
  padding() {
    const legend = document.querySelector(".cc-legend");
    const edge = Math.round(this.rem() * 1.5);
    return { top: edge, left: edge, right: edge * 2,
             bottom: edge + (legend ? legend.offsetHeight : 0) };
  }

  paint(shapes, items) {
    this.shapes = shapes;
    const stats = new Map(items.map((a) => [a.code, a]));
    const features = shapes.features.map((f) => ({
      ...f, properties: { ...f.properties, ...(stats.get(f.properties.code) || {}) } }));
    this.painted = features;
    this.map.getSource("areas").setData({ type: "FeatureCollection", features });
    const labels = features.map((f) => {
      const s = stats.get(f.properties.code) || {};
      const at = f.properties.label_point || f.properties.center;
      const point = Array.isArray(at) ? at : this.centroid(f.geometry);
      return { type: "Feature", geometry: { type: "Point", coordinates: point },
               properties: { code: f.properties.code,
                             label: `${f.properties.name}\n${fmt(this.t.areaLabel,
                                                                 { open: s.open ?? 0, overdue: s.overdue ?? 0 })}` } };
    });
    this.labels = labels;  // for tests: where each name is drawn
    this.map.getSource("labels").setData({ type: "FeatureCollection", features: labels });
  }

  centroid(geometry) {
    let ring = geometry.type === "Polygon" ? geometry.coordinates[0] : geometry.coordinates[0][0];
    if (geometry.type === "MultiPolygon") {
      let best = 0;
      for (const poly of geometry.coordinates) if (poly[0].length > best) { best = poly[0].length; ring = poly[0]; }
    }
    let x = 0, y = 0;
    for (const [lng, lat] of ring) { x += lng; y += lat; }
    return [x / ring.length, y / ring.length];
  }

  crumbs(detail) {
    const list = this.el("cc-crumbs");
    list.replaceChildren();
    const item = (label, code, current) => {
      const li = document.createElement("li");
      if (current) { li.textContent = label; li.setAttribute("aria-current", "page"); }
      else {
        const a = document.createElement("a");
        a.href = "#"; a.textContent = label;
        a.addEventListener("click", (e) => { e.preventDefault(); this.open(code); });
        li.append(a);
      }
      list.append(li);
    };
    if (!detail) { item(this.t.myTerritory, "", true); return; }
    for (const a of detail.ancestors) item(a.name, a.code, false);
    item(detail.name, detail.code, true);
  }

  // ------------------------------------------------------------------ figures

  show(summary) {
    const k = summary.kpis;
    this.links(k.window);
    for (const tile of document.querySelectorAll("[data-kpi]")) {
      const value = k[tile.dataset.kpi];
      const out = tile.querySelector(".kpi-value");
      if (tile.hasAttribute("data-rate")) out.textContent = value == null ? "—" : `${(value * 100).toFixed(1)}%`;
      else out.textContent = Number(value).toLocaleString("zh-CN");
    }
    this.trend(summary.trend);
    this.bars(summary.categories);
    this.pie(summary.channels);
    this.overdue(summary.overdue);
    this.intake(summary.intake);
    // the follow-up visits' light (registry): open, overdue, near due
    for (const out of document.querySelectorAll("[data-followup]")) {
      const value = (summary.followups || {})[out.dataset.followup];
      out.textContent = value == null ? "—" : Number(value).toLocaleString("zh-CN");
    }
  }

  // Smart intake's match rate: the share of the incidents classified whose
  // final category was the model's first suggestion, with the counts and the
  // model's own cross-validated accuracy under it (docs/intake.md).
  intake(figures) {
    const tile = document.querySelector("[data-intake-tile]");
    if (!tile) return;
    const rate = tile.querySelector('[data-intake="rate"]');
    const detail = tile.querySelector('[data-intake="detail"]');
    if (!figures) {
      rate.textContent = "—";
      detail.textContent = "";
      return;
    }
    rate.textContent = figures.rate == null ? "—" : `${(figures.rate * 100).toFixed(1)}%`;
    const parts = [fmt(this.t.intakeCounts, { matched: figures.matched ?? 0,
                                               suggested: figures.suggested ?? 0 })];
    const model = figures.model;
    if (model && model.accuracy != null) {
      parts.push(fmt(this.t.intakeModel, { version: model.version,
                                           accuracy: `${(model.accuracy * 100).toFixed(0)}%` }));
    } else {
      parts.push(this.t.intakeNoModel);
    }
    detail.textContent = parts.join(" · ");
  }

  // Each tile's list on the case desk, for the region open now (no links
  // when the user's menu has no case desk: config.tileFilters is null).
  links(window_) {
    const filters = this.c.tileFilters;
    if (!filters || !this.c.deskUrl) return;
    const values = { "{first}": window_.first, "{today}": window_.last };
    for (const tile of document.querySelectorAll("a[data-kpi]")) {
      const query = new URLSearchParams();
      for (const [name, value] of Object.entries(filters[tile.dataset.kpi] || {})) {
        query.append(name, values[value] ?? value);
      }
      if (this.region) query.append("region", this.region);
      tile.href = `${this.c.deskUrl}?${query}`;
    }
  }

  theme() {
    const r = this.rem();
    return { text: this.big ? "#cfe2ff" : "#334e68", axis: this.big ? "#3a5a80" : "#cfd6de",
             size: Math.round(r * 0.85) };
  }

  trend(days) {
    const t = this.theme();
    this.charts.trend.setOption({
      animation: false,
      grid: { left: t.size * 3, right: t.size, top: t.size * 2.4, bottom: t.size * 2 },
      legend: { top: 0, textStyle: { color: t.text, fontSize: t.size } },
      tooltip: { ...TOOLTIP, trigger: "axis" },
      xAxis: { type: "category", data: days.map((d) => d.day.slice(5)),
               axisLabel: { color: t.text, fontSize: t.size }, axisLine: { lineStyle: { color: t.axis } } },
      yAxis: { type: "value", minInterval: 1, axisLabel: { color: t.text, fontSize: t.size },
               splitLine: { lineStyle: { color: t.axis } } },
      series: [
        { name: this.t.reported, type: "line", smooth: true, symbol: "none", areaStyle: { opacity: 0.15 },
          data: days.map((d) => d.reported), lineStyle: { width: 2 }, color: "#4dabf7" },
        { name: this.t.closed, type: "line", smooth: true, symbol: "none",
          data: days.map((d) => d.closed), lineStyle: { width: 2 }, color: "#51cf66" },
      ],
    }, true);
  }

  bars(categories) {
    const t = this.theme();
    const rows = categories.slice(0, 8).reverse();
    this.charts.categories.setOption({
      animation: false,
      grid: { left: t.size * 7, right: t.size * 3, top: t.size * 0.5, bottom: t.size * 0.5 },
      tooltip: TOOLTIP,
      xAxis: { type: "value", show: false },
      yAxis: { type: "category", data: rows.map((c) => c.name || this.t.unclassified),
               axisLabel: { color: t.text, fontSize: t.size, width: t.size * 6.5, overflow: "truncate" },
               axisLine: { show: false }, axisTick: { show: false } },
      series: [{ type: "bar", data: rows.map((c) => c.reported), barMaxWidth: t.size * 1.2,
                 color: "#f08c00", label: { show: true, position: "right", color: t.text, fontSize: t.size } }],
    }, true);
  }

  pie(channels) {
    const t = this.theme();
    this.charts.channels.setOption({
      animation: false,
      tooltip: { ...TOOLTIP, trigger: "item" },
      legend: { orient: "vertical", right: 0, top: "middle", textStyle: { color: t.text, fontSize: t.size },
                itemWidth: t.size, itemHeight: t.size * 0.8 },
      series: [{ type: "pie", radius: ["40%", "72%"], center: ["32%", "50%"], label: { show: false },
                 data: channels.map((c) => ({ name: this.t.channels[c.channel] || c.label, value: c.reported })) }],
      color: ["#4dabf7", "#f08c00", "#51cf66", "#cc5de8", "#ff6b6b", "#20c997", "#fcc419"],
    }, true);
  }

  overdue(rows) {
    const list = this.el("overdue-list");
    list.replaceChildren();
    if (!rows.length) {
      const li = document.createElement("li");
      li.className = "empty"; li.textContent = this.t.noOverdue;
      list.append(li);
      return;
    }
    for (const r of rows) {
      const li = document.createElement("li");
      const a = document.createElement("a");
      a.href = this.c.incidentUrl.replace("NUMBER", encodeURIComponent(r.number));
      a.textContent = r.category || r.number;
      a.title = r.number;
      const where = document.createElement("span");
      where.className = "where"; where.textContent = `${r.region} · ${r.with}`;
      const late = document.createElement("b");
      late.className = "late";
      late.textContent = r.overdue_hours >= 48 ? fmt(this.t.days, { n: Math.floor(r.overdue_hours / 24) })
                                              : fmt(this.t.hours, { n: Math.round(r.overdue_hours) });
      li.append(a, where, late);
      list.append(li);
    }
  }

  showPoints(points) {
    const features = points.items.map((p) => ({ type: "Feature",
      geometry: { type: "Point", coordinates: [p.lng, p.lat] }, properties: p }));
    this.map.getSource("points").setData({ type: "FeatureCollection", features });
    this.el("cc-points").textContent = fmt(points.capped ? this.t.capped : this.t.shown,
                                           { shown: points.shown.toLocaleString("zh-CN") });
  }

  // ------------------------------------------------------------------ live feed

  listen() {
    const state = this.el("feed-state");
    const source = new EventSource(`${this.c.feedUrl}?after=${this.c.cursor}`);
    source.onopen = () => { state.textContent = this.t.feedLive; state.className = "feed-state live"; };
    source.onerror = () => { state.textContent = this.t.feedReconnecting; state.className = "feed-state"; };
    source.addEventListener("incident", (e) => this.feedItem(JSON.parse(e.data)));
    this.source = source;
  }

  feedItem(row) {
    const list = this.el("feed-list");
    const li = document.createElement("li");
    li.className = `feed-item cc-light-${row.incident.light || "none"}`;
    li.dataset.number = row.incident.number;
    li.dataset.action = row.action;
    const time = document.createElement("time");
    time.textContent = new Date(row.at).toLocaleTimeString("zh-CN", { hour12: false });
    const what = document.createElement("strong");
    what.textContent = this.t.actions[row.action] || row.action;
    const a = document.createElement("a");
    a.href = this.c.incidentUrl.replace("NUMBER", encodeURIComponent(row.incident.number));
    a.textContent = row.incident.category || row.incident.number;
    a.title = row.incident.number;
    const where = document.createElement("span");
    where.className = "where"; where.textContent = row.incident.region || "";
    li.append(time, what, a, where);
    list.prepend(li);
    while (list.children.length > 60) list.lastChild.remove();
    window.__feedCount += 1;
    this.scheduleRefresh();
  }

  scheduleRefresh() {
    if (this.refreshTimer) return;
    this.refreshTimer = setTimeout(async () => {
      this.refreshTimer = null;
      const q = this.region ? `?region=${encodeURIComponent(this.region)}` : "";
      try {
        const [summary, points] = await Promise.all([this.get(`command/summary${q}`),
                                                     this.get(`command/points${q}`)]);
        this.show(summary);
        this.showPoints(points);
        this.paint(this.shapes || EMPTY, summary.areas.items);
      } catch (error) { console.error(error); }
    }, REFRESH_MS);
  }
}
