// The command centre's dispute mediation card (矛盾纠纷调处): its figures from
// /api/v1/command/mediation for the region open now (the page's drill-down:
// window.__command.region, see command.js), refreshed every 30 s and at once
// when the region changes. A module: no inline script (core/middleware.py's CSP).
//
// For tests: window.__mediationReady is true once figures are shown.

const REFRESH_MS = 30000;
const WATCH_MS = 1000;
const fmt = (template, values) => template.replace(/%\((\w+)\)s/g, (_, k) => values[k]);

function startMediationCard(card, config) {
  const url = `${config.apiBase}command/mediation`;
  const region = () => (window.__command ? window.__command.region : config.region) || "";
  const set = (selector, value) => {
    const el = card.querySelector(selector);
    if (el) el.textContent = value ?? "—";
  };
  let shown = null;

  async function refresh() {
    const code = region();
    shown = code;
    const query = code ? `?region=${encodeURIComponent(code)}` : "";
    try {
      const response = await fetch(url + query, { credentials: "same-origin",
                                                  headers: { Accept: "application/json" } });
      if (!response.ok) throw new Error(`mediation: ${response.status}`);
      const f = await response.json();
      if (code !== shown) return; // the region changed meanwhile: a newer answer comes
      set('[data-med="open"]', f.open);
      set('[data-med="overdue"]', f.overdue);
      const days = f.days_to_resolve;
      set('[data-med="days"]', days.median === null ? "—"
        : fmt(card.dataset.days, { median: days.median, mean: days.mean }));
      for (const [key, n] of Object.entries(f.open_by_state)) set(`[data-med-state="${key}"]`, n);
      for (const [key, n] of Object.entries(f.open_by_risk)) set(`[data-med-risk="${key}"]`, n);
      for (const [key, n] of Object.entries(f.outcomes)) set(`[data-med-outcome="${key}"]`, n);
      const types = card.querySelector('[data-med="types"]');
      types.replaceChildren(...f.types.slice(0, 6).map((t) => {
        const li = document.createElement("li");
        const count = document.createElement("b");
        count.textContent = t.count;
        li.append(`${t.label} `, count);
        return li;
      }));
      set('[data-med="error"]', "");
      window.__mediationReady = true;
    } catch (error) {
      console.error(error);
      set('[data-med="error"]', card.dataset.failed);
    }
  }

  refresh();
  setInterval(refresh, REFRESH_MS);
  setInterval(() => { if (region() !== shown) refresh(); }, WATCH_MS);
}

const card = document.getElementById("mediation-card");
if (card) {
  window.__mediationReady = false;
  startMediationCard(card, JSON.parse(document.getElementById("command-config").textContent));
}
