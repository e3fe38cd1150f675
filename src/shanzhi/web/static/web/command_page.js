// The command centre (a module: no inline script, see core/middleware.py's CSP).
// ECharts is the classic script loaded in the page's head (window.echarts).
import * as maplibregl from "../vendor/maplibre-gl/maplibre-gl.js";
import { startCommandCentre } from "./command.js";

startCommandCentre(maplibregl, window.echarts,
                   JSON.parse(document.getElementById("command-config").textContent));
