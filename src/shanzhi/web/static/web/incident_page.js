// The incident page's map (a module: no inline script, see core/middleware.py's CSP).
import * as maplibregl from "../vendor/maplibre-gl/maplibre-gl.js";
import { startIncidentMap } from "./incident_map.js";

startIncidentMap(maplibregl, JSON.parse(document.getElementById("incident-map-config").textContent));
