// A small map of one incident: its point over the grids of its community (its
// own grid marked), drawn like the territory map (map.js): no base map unless
// a tile URL is set, data from the territory API with the page's session.
//
// For tests: window.__incidentMap is the MapLibre map; window.__incidentMapReady
// is true once the map is idle with its data.

import { flatMap } from "./basemap.js";

const MAX_ZOOM = 18;
const EMPTY = { type: "FeatureCollection", features: [] };
const PADDING = 36;

export function startIncidentMap(maplibregl, config) {
  window.__incidentMapReady = false;
  const map = flatMap(maplibregl, { container: "incident-map", tileUrl: config.tileUrl,
                                    center: [config.lng, config.lat], zoom: 15,
                                    maxZoom: MAX_ZOOM });
  window.__incidentMap = map;
  map.on("load", async () => {
    const area = await loadArea(config.areaUrl);
    addLayers(map, area, config);
    const grid = area.features.find((f) => f.properties.code === config.grid);
    const box = grid ? extend(featureBbox(grid), [config.lng, config.lat]) : null;
    if (box) map.fitBounds(box, { padding: PADDING, maxZoom: 17, duration: 0 });
    map.once("idle", () => { window.__incidentMapReady = true; });
    map.triggerRepaint();
  });
  return map;
}

async function loadArea(url) {
  if (!url) return EMPTY;
  try {
    const response = await fetch(url, { credentials: "same-origin",
                                         headers: { Accept: "application/geo+json" } });
    return response.ok ? await response.json() : EMPTY;
  } catch (error) {
    console.warn("the incident's area could not be loaded", error);
    return EMPTY;
  }
}

function addLayers(map, area, config) {
  map.addSource("area", { type: "geojson", data: area });
  map.addSource("point", {
    type: "geojson",
    data: { type: "Feature", properties: {},
            geometry: { type: "Point", coordinates: [config.lng, config.lat] } },
  });
  const mine = ["==", ["get", "code"], config.grid || ""];
  map.addLayer({ id: "area-fill", type: "fill", source: "area",
                 paint: { "fill-color": ["case", mine, "#ffe3bf", "#dfe8f1"],
                          "fill-opacity": 0.85 } });
  map.addLayer({ id: "area-line", type: "line", source: "area",
                 paint: { "line-color": "#3d5a80", "line-width": 1 } });
  map.addLayer({ id: "grid-line", type: "line", source: "area", filter: mine,
                 paint: { "line-color": "#c92a2a", "line-width": 2.5 } });
  map.addLayer({ id: "point-halo", type: "circle", source: "point",
                 paint: { "circle-radius": 14, "circle-color": "#c92a2a",
                          "circle-opacity": 0.18 } });
  map.addLayer({ id: "point", type: "circle", source: "point",
                 paint: { "circle-radius": 7, "circle-color": "#c92a2a",
                          "circle-stroke-color": "#ffffff", "circle-stroke-width": 2 } });
}

function featureBbox(feature) {
  const geometry = feature.geometry;
  const polygons = geometry.type === "Polygon" ? [geometry.coordinates]
    : geometry.type === "MultiPolygon" ? geometry.coordinates : [];
  let box = null;
  for (const polygon of polygons) for (const point of polygon[0]) box = extend(box, point);
  return box;
}

function extend(box, [x, y]) {
  if (!box) return [x, y, x, y];
  return [Math.min(box[0], x), Math.min(box[1], y), Math.max(box[2], x), Math.max(box[3], y)];
}
