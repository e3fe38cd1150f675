// The intake page's map (a module: no inline script, see core/middleware.py's CSP).
import * as maplibregl from "../vendor/maplibre-gl/maplibre-gl.js";
import { startIntakeMap } from "./intake.js";

startIntakeMap(maplibregl, JSON.parse(document.getElementById("intake-map-config").textContent));
