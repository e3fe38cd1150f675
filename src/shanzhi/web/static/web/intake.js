// The intake form's small map: the user's territory with its grids (drawn like
// map.js and incident_map.js: no base map unless a tile URL is set, data from
// the territory API with the page's session). A click sets the report's point
// (the form's lng/lat fields) and says which grid it falls in; typed
// coordinates, and an address the assistant placed, move the point.
//
// For tests: window.__intakeMap is the MapLibre map; window.__intakeMapReady
// is true once the map is idle with its grids; window.__intakePoint the
// point drawn ([lng, lat] or null).

import { flatMap } from "./basemap.js";

const MAX_ZOOM = 18;
const EMPTY = { type: "FeatureCollection", features: [] };
const PADDING = 24;

export function startIntakeMap(maplibregl, config) {
  window.__intakeMapReady = false;
  const t = config.messages;
  const el = (id) => document.getElementById(id);
  const lngInput = el("i-lng");
  const latInput = el("i-lat");
  const status = el("point-status");
  const map = flatMap(maplibregl, { container: "intake-map", tileUrl: config.tileUrl,
                                    center: [120.62, 31.3], zoom: 9, maxZoom: MAX_ZOOM });
  window.__intakeMap = map;
  map.getCanvas().style.cursor = "crosshair";

  let locating = 0;
  const typed = () => {
    const lng = Number.parseFloat(lngInput.value);
    const lat = Number.parseFloat(latInput.value);
    return Number.isFinite(lng) && Number.isFinite(lat) ? [lng, lat] : null;
  };

  async function showPoint(point, { pan = false } = {}) {
    const source = map.getSource("point");
    if (!source) return;
    window.__intakePoint = point;
    source.setData(point ? { type: "Feature", properties: {},
                             geometry: { type: "Point", coordinates: point } } : EMPTY);
    if (!point) {
      map.setFilter("grid-picked", ["==", ["get", "code"], ""]);
      refuse(false);
      return;
    }
    if (pan && !map.getBounds().contains(point)) map.easeTo({ center: point, duration: 0 });
    const seq = ++locating;
    const place = await get(`${config.apiBase}locate?lng=${point[0]}&lat=${point[1]}`);
    if (seq !== locating) return;
    const code = place && place.grid ? place.grid.code : "";
    map.setFilter("grid-picked", ["==", ["get", "code"], code]);
    if (!place || !place.regions.length) {
      status.textContent = t.outside;
      status.classList.add("is-outside");
      refuse(Boolean(place));
      return;
    }
    const names = place.regions.filter((r) => r.level !== "city").map((r) => r.name);
    // the intake's own rule (a grid worker: their grids; others: their
    // territory), answered by the locate endpoint: a refused point is red and
    // blocks the submit until it is moved
    if (place.in_territory === false) {
      status.textContent = place.territory_message;
      status.classList.add("is-outside");
      refuse(true);
      return;
    }
    status.classList.remove("is-outside");
    refuse(false);
    status.textContent = place.grid
      ? `${t.inGrid}：${[place.grid.name, ...names].join(" · ")}`
      : [...names].join(" · ");
  }

  // A point the user may not report at disables the submit while the place
  // is given as a point (an address may still be chosen instead).
  const submit = document.querySelector('#intake-form button[type="submit"]');
  let refused = false;
  function refuse(value) {
    refused = value;
    blockSubmit();
  }
  function blockSubmit() {
    if (!submit) return;
    const byPoint = !el("locate-point") || el("locate-point").checked;
    submit.disabled = refused && byPoint;
    if (submit.disabled) submit.title = status.textContent;
    else submit.removeAttribute("title");
    status.toggleAttribute("data-blocks-submit", submit.disabled);
  }
  document.getElementById("intake-form")?.addEventListener("change", (event) => {
    if (event.target.name === "locate") blockSubmit();
  });

  map.on("load", async () => {
    const territory = await get(`${config.apiBase}territory`);
    const roots = territory ? territory.roots : [];
    if (territory && territory.bbox) {
      map.fitBounds(territory.bbox, { padding: PADDING, duration: 0, maxZoom: 16 });
    }
    const zoom = Math.max(10, Math.min(16, Math.round(map.getZoom()) + 1));
    const meshes = await Promise.all(roots.map((r) => get(
      `${config.apiBase}regions/${encodeURIComponent(r.code)}/grids.geojson?zoom=${zoom}&slim=true`)));
    if (territory === null || meshes.includes(null)) status.textContent = t.loadFailed;
    const grids = { type: "FeatureCollection",
                    features: meshes.flatMap((m) => (m ? m.features : [])) };
    addLayers(map, grids);
    map.on("click", (event) => {
      const point = [round(event.lngLat.lng), round(event.lngLat.lat)];
      lngInput.value = point[0];
      latInput.value = point[1];
      for (const input of [lngInput, latInput]) {
        input.dispatchEvent(new Event("input", { bubbles: true }));
        input.removeAttribute("aria-invalid");
      }
      const radio = el("locate-point");
      if (!radio.checked) {
        radio.checked = true;
        radio.dispatchEvent(new Event("change", { bubbles: true }));
      }
      showPoint(point);
    });
    for (const input of [lngInput, latInput]) {
      input.addEventListener("change", () => showPoint(typed(), { pan: true }));
    }
    // an address the assistant placed confidently (intake_assist.js) is shown
    // while the place is given by address: the report gets that point
    document.addEventListener("intake:place", (event) => showPoint(event.detail.point,
                                                                   { pan: true }));
    await showPoint(typed(), { pan: true });
    map.once("idle", () => { window.__intakeMapReady = true; });
    map.triggerRepaint();
  });
  return map;
}

function round(value) {
  return Math.round(value * 1e6) / 1e6;
}

async function get(url) {
  try {
    const response = await fetch(url, { credentials: "same-origin",
                                         headers: { Accept: "application/json" } });
    return response.ok ? await response.json() : null;
  } catch (error) {
    console.warn("the intake map's data could not be loaded", error);
    return null;
  }
}

function addLayers(map, grids) {
  map.addSource("grids", { type: "geojson", data: grids });
  map.addSource("point", { type: "geojson", data: EMPTY });
  map.addLayer({ id: "grid-fill", type: "fill", source: "grids",
                 paint: { "fill-color": "#dfe8f1", "fill-opacity": 0.85 } });
  map.addLayer({ id: "grid-picked", type: "fill", source: "grids",
                 filter: ["==", ["get", "code"], ""],
                 paint: { "fill-color": "#ffe3bf", "fill-opacity": 0.95 } });
  map.addLayer({ id: "grid-line", type: "line", source: "grids",
                 paint: { "line-color": "#3d5a80", "line-width": 0.6, "line-opacity": 0.7 } });
  map.addLayer({ id: "point-halo", type: "circle", source: "point",
                 paint: { "circle-radius": 14, "circle-color": "#c92a2a",
                          "circle-opacity": 0.18 } });
  map.addLayer({ id: "point", type: "circle", source: "point",
                 paint: { "circle-radius": 7, "circle-color": "#c92a2a",
                          "circle-stroke-color": "#ffffff", "circle-stroke-width": 2 } });
}
