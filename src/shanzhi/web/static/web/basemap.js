// The base of every map: a plain background, and the raster tiles of the
// configured tile server (SHANZHI_MAP_TILE_URL) when there is one — no base
// map otherwise, so that the pages work without internet.

export function baseStyle(tileUrl, { background = "#eef2f5", opacity = 0.85 } = {}) {
  const sources = {};
  const layers = [{ id: "bg", type: "background", paint: { "background-color": background } }];
  if (tileUrl) {
    sources.tiles = { type: "raster", tiles: [tileUrl], tileSize: 256 };
    layers.push({ id: "tiles", type: "raster", source: "tiles",
                  paint: { "raster-opacity": opacity } });
  }
  return { version: 8, sources, layers };
}

// A flat map (no rotation or pitch) with zoom buttons and a scale.
export function flatMap(maplibregl, { container, tileUrl, center, zoom, maxZoom }) {
  const map = new maplibregl.Map({
    container, style: baseStyle(tileUrl), center, zoom, maxZoom,
    attributionControl: false, dragRotate: false, pitchWithRotate: false, touchPitch: false,
  });
  map.addControl(new maplibregl.NavigationControl({ showCompass: false }), "top-right");
  map.addControl(new maplibregl.ScaleControl({ unit: "metric" }), "bottom-right");
  map.touchZoomRotate.disableRotation();
  return map;
}
