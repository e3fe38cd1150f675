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
