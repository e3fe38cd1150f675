// The grid page's map (a module: no inline script, see core/middleware.py's CSP).
import * as maplibregl from "../vendor/maplibre-gl/maplibre-gl.js";
import { startGridMap } from "./grid_map.js";

startGridMap(maplibregl, JSON.parse(document.getElementById("grid-map-config").textContent));
