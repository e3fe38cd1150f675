// The territory map: the user's regions, drilled down city › district › town ›
// community › grid, with every grid of the territory drawn as a thin mesh.
//
// Data comes from the JSON API with the page's session (GET only):
//   territory                       the user's root regions and their bbox
//   regions/{code}                  one region (bbox, ancestors, number of children)
//   regions/{code}/children.geojson its children (grids below a community)
//   regions/{code}/grids.geojson    every grid under it (the mesh)
//   search?q=                       regions and grids by code prefix or name
//
// For tests: window.__map is the MapLibre map; window.__mapReady is true once
// the map is idle with its data (false again while a navigation loads);
// window.__mapState tells what is open and selected.

import { baseStyle } from "./basemap.js";

const FONT = ["Noto Sans CJK SC"];
const LOCAL_FONTS = "Noto Sans CJK SC, Source Han Sans SC, Microsoft YaHei, PingFang SC, sans-serif";
const MAX_ZOOM = 18;
// Room for the breadcrumb above and the legend below the fitted area.
const PADDING = { top: 72, bottom: 48, left: 48, right: 64 };
// Soft, distinguishable fills for neighbouring regions.
const PALETTE = ["#cfe0f3", "#d8ecd5", "#f4e3c6", "#e6d9f0", "#d3ecec", "#f2d7d9",
                 "#e3e8c8", "#dcdde8"];
const EMPTY = { type: "FeatureCollection", features: [] };

export function startTerritoryMap(maplibregl, config) {
  const app = new TerritoryMap(maplibregl, config);
  window.__territoryMap = app;
  app.start().catch((error) => app.fail(error));
  return app;
}

class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

class TerritoryMap {
  constructor(maplibregl, config) {
    this.lib = maplibregl;
    this.api = config.apiBase;
    this.loginUrl = config.loginUrl;
    this.tileUrl = config.tileUrl;
    this.t = config.messages;
    this.locale = document.documentElement.lang || "zh-CN";
    this.el = (id) => document.getElementById(id);
    this.roots = [];
    this.trail = [];          // crumbs: {kind: "territory"|"region"|"grid", code, name, level}
    this.current = null;      // the open region (RegionOut), or null for "my territory"
    this.selected = null;     // what the panel shows
    this.children = EMPTY;    // the open region's children
    this.childZoom = null;    // the zoom the children were simplified for
    this.meshZoom = null;
    this.meshLoading = Promise.resolve();
    this.navigation = 0;      // bumps on every navigation; stale answers are dropped
    this.details = new Map(); // region detail by code
    this.searchTimer = null;
    this.searchSeq = 0;
    window.__mapReady = false;
    window.__mapState = { current: null, selected: null, loading: true };
  }

  // ------------------------------------------------------------------ set-up

  async start() {
    this.map = new this.lib.Map({
      container: "map",
      style: baseStyle(this.tileUrl),
      center: [120.6, 31.3],
      zoom: 8,
      maxZoom: MAX_ZOOM,
      localIdeographFontFamily: LOCAL_FONTS,
      attributionControl: false,
      dragRotate: false,
      pitchWithRotate: false,
      touchPitch: false,
    });
    window.__map = this.map;
    this.map.addControl(new this.lib.NavigationControl({ showCompass: false }), "top-right");
    this.map.addControl(new this.lib.ScaleControl({ unit: "metric" }), "bottom-right");
    this.map.touchZoomRotate.disableRotation();
    this.bindPanel();
    this.setStatus(this.t.loading);

    const [territory] = await Promise.all([
      this.get("territory"),
      new Promise((resolve) => this.map.on("load", resolve)),
    ]);
    this.addLayers();
    this.bindMap();
    this.roots = territory.roots;
    if (!this.roots.length) {
      this.setStatus(this.t.noTerritory, true);
      this.showInfo({ name: this.t.noTerritory });
      return;
    }
    if (territory.bbox) this.fit(territory.bbox, 0);
    this.loadMesh(this.zoomNow());
    if (this.roots.length === 1) await this.openRegion(this.roots[0].code, { duration: 0 });
    else await this.openTerritory({ duration: 0 });
  }

  addLayers() {
    const map = this.map;
    for (const id of ["context", "children", "mesh", "focus", "highlight", "context-labels",
                      "children-labels"]) {
      map.addSource(id, { type: "geojson", data: EMPTY, promoteId: "id" });
    }
    const palette = ["match", ["%", ["to-number", ["get", "id"]], PALETTE.length]];
    PALETTE.forEach((colour, i) => palette.push(i, colour));
    palette.push(PALETTE[0]);

    map.addLayer({ id: "context-fill", type: "fill", source: "context",
                   paint: { "fill-color": "#dfe4ea", "fill-opacity": 0.7 } });
    map.addLayer({ id: "children-fill", type: "fill", source: "children",
                   paint: {
                     "fill-color": ["case",
                       ["boolean", ["feature-state", "selected"], false], "#ffe3bf",
                       ["boolean", ["feature-state", "hover"], false], "#fff3bf",
                       palette],
                     "fill-opacity": 0.85,
                   } });
    map.addLayer({ id: "mesh-line", type: "line", source: "mesh",
                   paint: {
                     "line-color": "#3d5a80",
                     "line-width": ["interpolate", ["linear"], ["zoom"], 8, 0.35, 12, 0.8, 15, 1.2],
                     "line-opacity": ["interpolate", ["linear"], ["zoom"], 8, 0.45, 11, 0.6, 14, 0.8],
                   } });
    map.addLayer({ id: "context-line", type: "line", source: "context",
                   paint: { "line-color": "#6b7785", "line-width": 1.8 } });
    map.addLayer({ id: "children-line", type: "line", source: "children",
                   paint: {
                     "line-color": "#1f4e79",
                     "line-width": ["case", ["==", ["get", "level"], "grid"], 1.4, 1.8],
                   } });
    map.addLayer({ id: "focus-line", type: "line", source: "focus",
                   paint: { "line-color": "#c92a2a", "line-width": 3 } });
    map.addLayer({ id: "highlight-fill", type: "fill", source: "highlight",
                   paint: { "fill-color": "#f08c00", "fill-opacity": 0.12 } });
    map.addLayer({ id: "highlight-line", type: "line", source: "highlight",
                   paint: { "line-color": "#c92a2a", "line-width": 3 } });
    map.addLayer({ id: "children-hover-line", type: "line", source: "children",
                   filter: ["==", ["get", "id"], -1],
                   paint: { "line-color": "#e8590c", "line-width": 2.5 } });
    const label = (size) => ({
      "text-field": ["get", "label"],
      "text-font": FONT,
      "text-size": size,
      "text-max-width": 7,
      "text-padding": 2,
      "text-allow-overlap": false,
    });
    map.addLayer({ id: "context-labels", type: "symbol", source: "context-labels",
                   layout: label(14),
                   paint: { "text-color": "#52606d", "text-halo-color": "#f5f7f9",
                            "text-halo-width": 1.5 } });
    map.addLayer({ id: "children-labels", type: "symbol", source: "children-labels",
                   layout: { ...label(["match", ["get", "level"], "district", 16, "town", 15, 14]),
                             "symbol-sort-key": ["get", "rank"] },
                   paint: { "text-color": "#102a43", "text-halo-color": "#ffffff",
                            "text-halo-width": 1.8 } });
  }

  bindMap() {
    const map = this.map;
    let hovered = null;
    map.on("mousemove", "children-fill", (e) => {
      const feature = e.features && e.features[0];
      if (!feature) return;
      map.getCanvas().style.cursor = "pointer";
      if (hovered !== feature.id) {
        hovered = feature.id;
        map.setFilter("children-hover-line", ["==", ["get", "id"], hovered]);
      }
    });
    map.on("mouseleave", "children-fill", () => {
      map.getCanvas().style.cursor = "";
      hovered = null;
      map.setFilter("children-hover-line", ["==", ["get", "id"], -1]);
    });
    map.on("mouseenter", "context-fill", () => { map.getCanvas().style.cursor = "pointer"; });
    map.on("mouseleave", "context-fill", () => { map.getCanvas().style.cursor = ""; });
    map.on("click", (e) => {
      const [hit] = map.queryRenderedFeatures(e.point, { layers: ["children-fill"] });
      if (hit) return this.choose(hit.properties);
      const [around] = map.queryRenderedFeatures(e.point, { layers: ["context-fill"] });
      if (around) return this.openRegion(around.properties.code);
      return undefined;
    });
    map.on("moveend", () => {
      this.placeContextLabels();
      this.refine();
    });
  }

  bindPanel() {
    const form = this.el("map-search");
    const input = this.el("map-search-input");
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      clearTimeout(this.searchTimer);
      this.search(input.value, true);
    });
    input.addEventListener("input", () => {
      clearTimeout(this.searchTimer);
      this.searchTimer = setTimeout(() => this.search(input.value, false), 250);
    });
    input.addEventListener("keydown", (e) => {
      if (e.key === "Escape") this.closeResults();
      if (e.key === "ArrowDown") {
        const first = this.el("map-search-results").querySelector("button");
        if (first) { e.preventDefault(); first.focus(); }
      }
    });
    this.el("map-search-results").addEventListener("keydown", (e) => {
      if (e.key !== "ArrowDown" && e.key !== "ArrowUp") return;
      const buttons = [...this.el("map-search-results").querySelectorAll("button")];
      const i = buttons.indexOf(document.activeElement);
      const next = buttons[i + (e.key === "ArrowDown" ? 1 : -1)];
      e.preventDefault();
      (next || input).focus();
    });
  }

  // ------------------------------------------------------------------ data

  async get(path) {
    const response = await fetch(this.api + path, {
      credentials: "same-origin",
      headers: { Accept: "application/json, application/geo+json" },
    });
    if (response.status === 401) {
      window.location.assign(`${this.loginUrl}?next=${encodeURIComponent(window.location.pathname)}`);
      throw new ApiError(401, "not logged in");
    }
    if (!response.ok) {
      let message = response.statusText;
      try { message = (await response.json()).error.message; } catch { /* not JSON */ }
      throw new ApiError(response.status, message);
    }
    return response.json();
  }

  async region(code) {
    if (!this.details.has(code)) this.details.set(code, await this.get(`regions/${encodeURIComponent(code)}`));
    return this.details.get(code);
  }

  childrenOf(code, zoom) {
    return this.get(`regions/${encodeURIComponent(code)}/children.geojson?zoom=${zoom}`);
  }

  loadMesh(zoom) {
    this.meshZoom = zoom;
    this.meshLoading = this.fetchMesh(zoom);
    return this.meshLoading;
  }

  async fetchMesh(zoom) {
    try {
      const parts = await Promise.all(this.roots.map(
        (r) => this.get(`regions/${encodeURIComponent(r.code)}/grids.geojson?zoom=${zoom}&slim=true`)));
      if (this.meshZoom !== zoom) return;
      const features = parts.flatMap((p) => p.features);
      this.map.getSource("mesh").setData({ type: "FeatureCollection", features });
      this.meshCount = features.length;
      this.el("legend-grid-count").textContent = features.length.toLocaleString(this.locale);
    } catch (error) {
      console.warn("grid mesh", error);
    }
  }

  // After the user zooms in by hand, fetch finer boundaries.
  refine() {
    if (!this.map || this.childZoom === null) return;
    const zoom = this.zoomNow();
    if (zoom >= this.childZoom + 2 && this.current) {
      const seq = this.navigation;
      const code = this.current.code;
      this.childZoom = zoom;
      this.childrenOf(code, zoom).then((data) => {
        if (seq === this.navigation) this.setChildren(data, false);
      }).catch((error) => console.warn("refine", error));
    }
    if (this.meshZoom !== null && zoom >= this.meshZoom + 2) this.loadMesh(Math.min(zoom, 16));
  }

  // ------------------------------------------------------------------ navigation

  zoomNow() {
    return Math.max(0, Math.min(MAX_ZOOM, Math.round(this.map.getZoom())));
  }

  zoomFor(bbox) {
    if (!bbox) return this.zoomNow();
    const camera = this.map.cameraForBounds(this.bounds(bbox), { padding: PADDING });
    const zoom = camera && typeof camera.zoom === "number" ? camera.zoom : this.map.getZoom();
    return Math.max(0, Math.min(MAX_ZOOM, Math.round(zoom)));
  }

  bounds(bbox) {
    return [[bbox[0], bbox[1]], [bbox[2], bbox[3]]];
  }

  fit(bbox, duration = 400, maxZoom = 16, padding = PADDING) {
    if (!bbox) return;
    this.map.fitBounds(this.bounds(bbox), { padding, duration, maxZoom });
  }

  // Padding of a share of the map on each side, so that neighbours show around.
  roomyPadding(share) {
    const canvas = this.map.getCanvas();
    const w = canvas.clientWidth;
    const h = canvas.clientHeight;
    return { top: PADDING.top + Math.round(h * share), bottom: PADDING.bottom + Math.round(h * share),
             left: PADDING.left + Math.round(w * share), right: PADDING.right + Math.round(w * share) };
  }

  begin() {
    this.navigation += 1;
    window.__mapReady = false;
    window.__mapState = { ...window.__mapState, loading: true };
    this.setStatus(this.t.loading);
    return this.navigation;
  }

  async settle(seq) {
    if (seq !== this.navigation) return;
    await this.meshLoading;
    if (seq !== this.navigation) return;
    this.setStatus(null);
    await new Promise((resolve) => {
      // idle fires once the camera has stopped and every source is rendered
      this.map.once("idle", resolve);
      this.map.triggerRepaint();
    });
    if (seq !== this.navigation) return;
    window.__mapState = {
      current: this.current ? this.current.code : null,
      selected: this.selected ? this.selected.code : null,
      level: this.selected ? this.selected.level : null,
      loading: false,
    };
    window.__mapReady = true;
  }

  // Open a region: fit it, show its children, its neighbours in grey.
  async openRegion(code, { duration = 450, fit = true } = {}) {
    const seq = this.begin();
    try {
      const region = await this.region(code);
      const zoom = this.zoomFor(region.bbox);
      const parent = region.ancestors.length ? region.ancestors[region.ancestors.length - 1] : null;
      const [children, siblings] = await Promise.all([
        this.childrenOf(code, zoom),
        parent ? this.childrenOf(parent.code, zoom).catch(() => EMPTY) : Promise.resolve(EMPTY),
      ]);
      if (seq !== this.navigation) return;
      this.current = region;
      this.childZoom = zoom;
      this.setChildren(children, true);
      const own = siblings.features.filter((f) => f.properties.code === code);
      const others = siblings.features.filter((f) => f.properties.code !== code);
      this.setContext(others);
      this.setFocus(own);
      this.setHighlight([]);
      this.trail = [
        ...this.territoryCrumb(),
        ...region.ancestors.map((a) => ({ kind: "region", code: a.code, name: a.name, level: a.level })),
        { kind: "region", code: region.code, name: region.name, level: region.level },
      ];
      this.select({ ...region, kind: "region" });
      if (fit) {
        const padding = region.level === "community" ? this.roomyPadding(0.12) : PADDING;
        this.fit(region.bbox, duration, 16, padding);
      }
      await this.settle(seq);
    } catch (error) {
      if (seq === this.navigation) this.fail(error);
    }
  }

  // Several roots (e.g. a grid worker with grids in two communities): show them together.
  async openTerritory({ duration = 450 } = {}) {
    const seq = this.begin();
    try {
      const bbox = unionBbox(this.roots.map((r) => r.bbox).filter(Boolean));
      const zoom = this.zoomFor(bbox);
      const parts = await Promise.all(this.roots.map((r) => this.childrenOf(r.code, zoom)));
      if (seq !== this.navigation) return;
      this.current = null;
      this.childZoom = zoom;
      this.setChildren({ type: "FeatureCollection", features: parts.flatMap((p) => p.features) }, true);
      this.setContext([]);
      this.setFocus([]);
      this.setHighlight([]);
      this.trail = this.territoryCrumb();
      this.select({ kind: "territory", name: this.t.myTerritory, level: null, code: null,
                    children: this.roots.length, generated: false });
      this.fit(bbox, duration);
      await this.settle(seq);
    } catch (error) {
      if (seq === this.navigation) this.fail(error);
    }
  }

  territoryCrumb() {
    return this.roots.length > 1 ? [{ kind: "territory", name: this.t.myTerritory }] : [];
  }

  // A child was chosen on the map or in the list: drill into a region, select a grid.
  choose(props) {
    if (props.level === "grid") return this.selectGrid(props.code);
    return this.openRegion(props.code);
  }

  async selectGrid(code, { bbox = null, duration = 450 } = {}) {
    const feature = this.children.features.find((f) => f.properties.code === code);
    if (!feature) return;
    const seq = this.begin();
    const props = feature.properties;
    this.setHighlight([feature]);
    this.markSelected(feature.id);
    const base = this.trail.filter((c) => c.kind !== "grid");
    this.trail = [...base, { kind: "grid", code, name: props.name, level: "grid" }];
    this.select({ kind: "grid", code, name: props.name, level: "grid",
                  generated: props.generated, children: null });
    this.fit(bbox || featureBbox(feature), duration, 17, this.roomyPadding(0.3));
    await this.settle(seq);
  }

  async openHit(hit) {
    this.closeResults();
    this.el("map-search-input").blur();
    if (hit.level === "grid") {
      const community = hit.path[hit.path.length - 1];
      if (!this.current || this.current.code !== community) {
        await this.openRegion(community, { fit: false });
      }
      await this.selectGrid(hit.code, { bbox: hit.bbox });
    } else {
      await this.openRegion(hit.code);
    }
  }

  // ------------------------------------------------------------------ drawing

  setChildren(collection, fresh) {
    if (fresh) {
      this.map.removeFeatureState({ source: "children" });
      this.selectedFeature = null;
    }
    this.children = collection;
    this.map.getSource("children").setData(collection);
    const parentName = this.current ? this.current.name : "";
    const labels = collection.features.map((f, i) => {
      const point = labelPoint(f.geometry);
      if (!point) return null;
      let text = f.properties.name;
      // "清庭社区第1网格" inside 清庭社区 reads better as "第1网格"
      if (f.properties.level === "grid" && parentName && text.startsWith(parentName) &&
          text.length > parentName.length) text = text.slice(parentName.length);
      return { type: "Feature", id: f.id, geometry: { type: "Point", coordinates: point },
               properties: { label: text, level: f.properties.level, code: f.properties.code,
                             rank: i } };
    }).filter(Boolean);
    this.map.getSource("children-labels").setData({ type: "FeatureCollection", features: labels });
    if (fresh) this.renderChildrenList();
  }

  setContext(features) {
    this.contextFeatures = features;
    this.map.getSource("context").setData({ type: "FeatureCollection", features });
    this.placeContextLabels();
  }

  // Neighbours are mostly outside the view: name each one inside the part of it
  // that is visible, so the user sees what lies around.
  placeContextLabels() {
    const features = this.contextFeatures || [];
    const canvas = this.map.getCanvas();
    const a = this.map.unproject([PADDING.left, canvas.clientHeight - PADDING.bottom]);
    const b = this.map.unproject([canvas.clientWidth - PADDING.right, PADDING.top]);
    const view = [a.lng, a.lat, b.lng, b.lat];
    const labels = features.map((f) => {
      const point = labelPoint(f.geometry, view);
      return point && { type: "Feature", geometry: { type: "Point", coordinates: point },
                        properties: { label: f.properties.name, code: f.properties.code } };
    }).filter(Boolean);
    this.map.getSource("context-labels").setData({ type: "FeatureCollection", features: labels });
  }

  // The open region's own outline.
  setFocus(features) {
    this.map.getSource("focus").setData({ type: "FeatureCollection", features });
  }

  // The selected grid.
  setHighlight(features) {
    this.map.getSource("highlight").setData({ type: "FeatureCollection", features });
    if (!features.length) this.markSelected(null);
  }

  markSelected(id) {
    if (this.selectedFeature !== null && this.selectedFeature !== undefined) {
      this.map.setFeatureState({ source: "children", id: this.selectedFeature }, { selected: false });
    }
    this.selectedFeature = id;
    if (id !== null && id !== undefined) {
      this.map.setFeatureState({ source: "children", id }, { selected: true });
    }
  }

  // ------------------------------------------------------------------ panel

  select(node) {
    this.selected = node;
    this.showInfo(node);
    this.renderCrumbs();
    this.markChildInList(node.kind === "grid" ? node.code : null);
  }

  showInfo(node) {
    const level = node.level ? this.t.levels[node.level] || node.level : "—";
    this.el("info-name").textContent = node.name || "—";
    const badge = this.el("info-level");
    badge.textContent = node.level ? level : "";
    badge.hidden = !node.level;
    badge.dataset.level = node.level || "";
    this.el("info-generated").hidden = !node.generated;
    this.el("info-code").textContent = node.code || "—";
    this.el("info-level-text").textContent = level;
    const isCommunity = node.level === "community";
    this.el("info-children-label").textContent = isCommunity ? this.t.grids : this.t.children;
    const count = node.children === null || node.children === undefined ? null : node.children;
    this.el("info-children").textContent = count === null ? "—" : count.toLocaleString(this.locale);
    this.el("info-children").hidden = node.level === "grid";
    this.el("info-children-label").hidden = node.level === "grid";
  }

  renderCrumbs() {
    const list = this.el("map-crumbs");
    list.replaceChildren();
    this.trail.forEach((crumb, i) => {
      const item = document.createElement("li");
      const last = i === this.trail.length - 1;
      const level = crumb.level ? this.t.levels[crumb.level] : "";
      if (last) {
        const span = document.createElement("span");
        span.textContent = crumb.name;
        span.setAttribute("aria-current", "location");
        item.append(span);
      } else {
        const button = document.createElement("button");
        button.type = "button";
        button.textContent = crumb.name;
        button.title = level ? `${level} ${crumb.code}` : crumb.name;
        button.addEventListener("click", () => {
          if (crumb.kind === "territory") this.openTerritory();
          else this.openRegion(crumb.code);
        });
        item.append(button);
      }
      item.dataset.code = crumb.code || "";
      list.append(item);
    });
  }

  renderChildrenList() {
    const list = this.el("children-list");
    const features = [...this.children.features].sort(
      (a, b) => (a.properties.code < b.properties.code ? -1 : 1));
    const grids = features.length && features[0].properties.level === "grid";
    const title = grids ? this.t.grids : this.t.children;
    this.el("children-title").textContent = this.locale.startsWith("zh")
      ? `${title}（${features.length}）` : `${title} (${features.length})`;
    this.el("children-hint").textContent =
      !features.length ? this.t.gridLeaf : grids ? this.t.clickGrid : this.t.clickToDrill;
    this.el("children-count-head").textContent = grids ? this.t.code : this.t.children;
    list.replaceChildren(...features.map((f) => {
      const item = document.createElement("li");
      const button = document.createElement("button");
      button.type = "button";
      button.dataset.code = f.properties.code;
      const name = document.createElement("span");
      name.className = "name";
      name.textContent = f.properties.name;
      const meta = document.createElement("span");
      meta.className = "meta";
      const count = f.properties.children;
      meta.textContent = count === undefined ? f.properties.code : `${count}`;
      if (count !== undefined) meta.title = this.t.children;
      button.append(name, meta);
      button.addEventListener("click", () => this.choose(f.properties));
      button.addEventListener("mouseenter", () =>
        this.map.setFilter("children-hover-line", ["==", ["get", "id"], f.id]));
      button.addEventListener("mouseleave", () =>
        this.map.setFilter("children-hover-line", ["==", ["get", "id"], -1]));
      item.append(button);
      return item;
    }));
  }

  markChildInList(code) {
    for (const button of this.el("children-list").querySelectorAll("button")) {
      const on = button.dataset.code === code;
      button.classList.toggle("active", on);
      if (on) button.scrollIntoView({ block: "nearest" });
    }
  }

  // ------------------------------------------------------------------ search

  async search(q, submitted) {
    q = q.trim();
    const list = this.el("map-search-results");
    if (!q) return this.closeResults();
    const seq = ++this.searchSeq;
    list.hidden = false;
    list.replaceChildren(this.message(this.t.searching));
    let hits;
    try {
      hits = await this.get(`search?q=${encodeURIComponent(q)}`);
    } catch (error) {
      if (seq === this.searchSeq) list.replaceChildren(this.message(error.message));
      return undefined;
    }
    if (seq !== this.searchSeq) return undefined;
    if (!hits.length) {
      list.replaceChildren(this.message(this.t.noResults));
      return undefined;
    }
    if (submitted && hits.length === 1) return this.openHit(hits[0]);
    const selected = this.selected && this.selected.code;
    const head = this.message(this.t.results.replace("%(count)s", String(hits.length)));
    head.className = "results-head";
    list.replaceChildren(head, ...hits.map((hit) => {
      const item = document.createElement("li");
      const button = document.createElement("button");
      button.type = "button";
      button.dataset.code = hit.code;
      button.classList.toggle("active", hit.code === selected);
      const name = document.createElement("span");
      name.className = "name";
      name.textContent = hit.name;
      const meta = document.createElement("span");
      meta.className = "meta";
      meta.textContent = `${this.t.levels[hit.level] || hit.level} · ${hit.code}`;
      button.append(name, meta);
      button.addEventListener("click", () => this.openHit(hit));
      item.append(button);
      return item;
    }));
    return undefined;
  }

  closeResults() {
    this.searchSeq += 1; // answers still on their way are dropped
    const list = this.el("map-search-results");
    list.hidden = true;
    list.replaceChildren();
  }

  message(text) {
    const item = document.createElement("li");
    item.className = "message";
    item.textContent = text;
    return item;
  }

  // ------------------------------------------------------------------ status

  setStatus(text, isError = false) {
    const status = this.el("map-status");
    status.hidden = !text;
    status.textContent = text || "";
    status.classList.toggle("error", isError);
  }

  fail(error) {
    console.error(error);
    this.setStatus(`${this.t.loadFailed} ${error && error.message ? error.message : ""}`, true);
    window.__mapState = { ...window.__mapState, loading: false, error: String(error) };
  }
}

// ------------------------------------------------------------------ geometry helpers

function polygonsOf(geometry) {
  if (!geometry) return [];
  if (geometry.type === "Polygon") return [geometry.coordinates];
  if (geometry.type === "MultiPolygon") return geometry.coordinates;
  return [];
}

function ringArea(ring) {
  let sum = 0;
  for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
    sum += (ring[j][0] * ring[i][1]) - (ring[i][0] * ring[j][1]);
  }
  return sum / 2;
}

// Where to write a polygon's name: the point of its largest part farthest from
// the edges ("pole of inaccessibility", after mapbox/polylabel). One point per
// feature, so a label is not repeated on every tile the polygon touches.
export function labelPoint(geometry, view = null) {
  let polygons = polygonsOf(geometry);
  if (view) {
    polygons = polygons.map((p) => [clipRing(p[0], view)]).filter((p) => p[0].length >= 4);
  }
  if (!polygons.length) return null;
  const polygon = polygons.reduce((best, p) =>
    (Math.abs(ringArea(p[0])) > Math.abs(ringArea(best[0])) ? p : best));
  return polylabel(polygon);
}

function polylabel(polygon) {
  let minX = Infinity; let minY = Infinity; let maxX = -Infinity; let maxY = -Infinity;
  for (const [x, y] of polygon[0]) {
    minX = Math.min(minX, x); maxX = Math.max(maxX, x);
    minY = Math.min(minY, y); maxY = Math.max(maxY, y);
  }
  const width = maxX - minX;
  const height = maxY - minY;
  const size = Math.min(width, height);
  if (size === 0) return [minX, minY];
  const precision = Math.max(width, height) / 100;
  const cell = (x, y, h) => {
    const d = edgeDistance(x, y, polygon);
    return { x, y, h, d, max: d + h * Math.SQRT2 };
  };
  const queue = [];
  for (let x = minX; x < maxX; x += size) {
    for (let y = minY; y < maxY; y += size) queue.push(cell(x + size / 2, y + size / 2, size / 2));
  }
  let best = cell(minX + width / 2, minY + height / 2, 0);
  const [cx, cy] = ringCentroid(polygon[0]);
  const centroid = cell(cx, cy, 0);
  if (centroid.d > best.d) best = centroid;
  let guard = 0;
  while (queue.length && guard++ < 5000) {
    let top = 0;
    for (let i = 1; i < queue.length; i++) if (queue[i].max > queue[top].max) top = i;
    const c = queue[top];
    queue[top] = queue[queue.length - 1];
    queue.pop();
    if (c.d > best.d) best = c;
    if (c.max - best.d <= precision) continue;
    const h = c.h / 2;
    queue.push(cell(c.x - h, c.y - h, h), cell(c.x + h, c.y - h, h),
               cell(c.x - h, c.y + h, h), cell(c.x + h, c.y + h, h));
  }
  return [best.x, best.y];
}

// Distance to the nearest edge: positive inside the polygon, negative outside.
function edgeDistance(x, y, polygon) {
  let inside = false;
  let min = Infinity;
  for (const ring of polygon) {
    for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
      const a = ring[i];
      const b = ring[j];
      if ((a[1] > y) !== (b[1] > y) && x < ((b[0] - a[0]) * (y - a[1])) / (b[1] - a[1]) + a[0]) {
        inside = !inside;
      }
      min = Math.min(min, segmentDistance2(x, y, a, b));
    }
  }
  return (inside ? 1 : -1) * Math.sqrt(min);
}

function segmentDistance2(px, py, a, b) {
  let [x, y] = a;
  let dx = b[0] - x;
  let dy = b[1] - y;
  if (dx !== 0 || dy !== 0) {
    const t = ((px - x) * dx + (py - y) * dy) / (dx * dx + dy * dy);
    if (t > 1) { x = b[0]; y = b[1]; } else if (t > 0) { x += dx * t; y += dy * t; }
  }
  dx = px - x;
  dy = py - y;
  return dx * dx + dy * dy;
}

// The part of a ring inside a box [minX, minY, maxX, maxY] (Sutherland–Hodgman).
function clipRing(ring, [minX, minY, maxX, maxY]) {
  const edges = [
    [(p) => p[0] >= minX, (p, q) => [minX, p[1] + ((q[1] - p[1]) * (minX - p[0])) / (q[0] - p[0])]],
    [(p) => p[0] <= maxX, (p, q) => [maxX, p[1] + ((q[1] - p[1]) * (maxX - p[0])) / (q[0] - p[0])]],
    [(p) => p[1] >= minY, (p, q) => [p[0] + ((q[0] - p[0]) * (minY - p[1])) / (q[1] - p[1]), minY]],
    [(p) => p[1] <= maxY, (p, q) => [p[0] + ((q[0] - p[0]) * (maxY - p[1])) / (q[1] - p[1]), maxY]],
  ];
  let points = ring;
  for (const [inside, cut] of edges) {
    if (!points.length) break;
    const out = [];
    for (let i = 0; i < points.length; i++) {
      const p = points[i];
      const q = points[(i + 1) % points.length];
      if (inside(p)) {
        out.push(p);
        if (!inside(q)) out.push(cut(p, q));
      } else if (inside(q)) {
        out.push(cut(p, q));
      }
    }
    points = out;
  }
  if (points.length && (points[0][0] !== points[points.length - 1][0] ||
                        points[0][1] !== points[points.length - 1][1])) {
    points.push(points[0]);
  }
  return points;
}

function ringCentroid(ring) {
  let area = 0; let x = 0; let y = 0;
  for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
    const f = ring[i][0] * ring[j][1] - ring[j][0] * ring[i][1];
    x += (ring[i][0] + ring[j][0]) * f;
    y += (ring[i][1] + ring[j][1]) * f;
    area += f * 3;
  }
  return area === 0 ? ring[0] : [x / area, y / area];
}

function featureBbox(feature) {
  let minX = Infinity; let minY = Infinity; let maxX = -Infinity; let maxY = -Infinity;
  for (const polygon of polygonsOf(feature.geometry)) {
    for (const [x, y] of polygon[0]) {
      minX = Math.min(minX, x); maxX = Math.max(maxX, x);
      minY = Math.min(minY, y); maxY = Math.max(maxY, y);
    }
  }
  return Number.isFinite(minX) ? [minX, minY, maxX, maxY] : null;
}

function unionBbox(boxes) {
  if (!boxes.length) return null;
  return [Math.min(...boxes.map((b) => b[0])), Math.min(...boxes.map((b) => b[1])),
          Math.max(...boxes.map((b) => b[2])), Math.max(...boxes.map((b) => b[3]))];
}
