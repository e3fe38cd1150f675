// A grid on the map (registry/grid.html): its boundary and its buildings as
// points, drawn like the other maps (web/basemap.js): no base map unless a
// tile URL is set, the data from the page itself. A click on a building
// opens its entry in the list beside the map.
//
// For tests: window.__gridMap is the MapLibre map; window.__gridMapReady is
// true once the map is idle with its data.

import { flatMap } from "../web/basemap.js";

const PADDING = 40;
const EMPTY = { type: "FeatureCollection", features: [] };

export function startGridMap(maplibregl, config) {
  window.__gridMapReady = false;
  const box = bounds(config);
  const map = flatMap(maplibregl, {
    container: "grid-map", tileUrl: config.tileUrl, maxZoom: 19,
    center: box ? [(box[0] + box[2]) / 2, (box[1] + box[3]) / 2] : [120.6, 31.3],
    zoom: box ? 15 : 9,
  });
  window.__gridMap = map;
  map.on("load", () => {
    map.addSource("grid", { type: "geojson",
                            data: config.grid && config.grid.geometry ? config.grid : EMPTY });
    map.addSource("buildings", { type: "geojson", data: config.buildings || EMPTY });
    map.addLayer({ id: "grid-fill", type: "fill", source: "grid",
                   paint: { "fill-color": "#ffe3bf", "fill-opacity": 0.55 } });
    map.addLayer({ id: "grid-line", type: "line", source: "grid",
                   paint: { "line-color": "#c92a2a", "line-width": 2.5 } });
    map.addLayer({ id: "buildings", type: "circle", source: "buildings",
                   paint: { "circle-radius": 7, "circle-color": "#1c5d99",
                            "circle-stroke-color": "#ffffff", "circle-stroke-width": 2 } });
    if (box) map.fitBounds(box, { padding: PADDING, maxZoom: 18, duration: 0 });
    map.on("click", "buildings", (event) => pick(event.features[0]?.properties?.id));
    map.on("mouseenter", "buildings", () => { map.getCanvas().style.cursor = "pointer"; });
    map.on("mouseleave", "buildings", () => { map.getCanvas().style.cursor = ""; });
    map.once("idle", () => { window.__gridMapReady = true; });
    map.triggerRepaint();
  });
  return map;
}

function pick(id) {
  const entry = id && document.getElementById(`building-${id}`);
  if (!entry) return;
  for (const other of document.querySelectorAll(".grid-list .building.is-picked")) {
    other.classList.remove("is-picked");
  }
  entry.open = true;
  entry.classList.add("is-picked");
  entry.scrollIntoView({ block: "nearest" });
}

function bounds(config) {
  let box = null;
  const grow = ([x, y]) => {
    box = box ? [Math.min(box[0], x), Math.min(box[1], y), Math.max(box[2], x), Math.max(box[3], y)]
      : [x, y, x, y];
  };
  const geometry = config.grid && config.grid.geometry;
  const polygons = !geometry ? [] : geometry.type === "Polygon" ? [geometry.coordinates]
    : geometry.type === "MultiPolygon" ? geometry.coordinates : [];
  for (const polygon of polygons) for (const point of polygon[0]) grow(point);
  for (const feature of (config.buildings || EMPTY).features) grow(feature.geometry.coordinates);
  return box;
}
