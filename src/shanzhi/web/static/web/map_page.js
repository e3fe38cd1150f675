// The territory map page (a module: no inline script, see core/middleware.py's CSP).
import * as maplibregl from "../vendor/maplibre-gl/maplibre-gl.js";
import { startTerritoryMap } from "./map.js";

startTerritoryMap(maplibregl, JSON.parse(document.getElementById("map-config").textContent));
