// The import's progress (registry/import_job.html): while the import runs,
// asks the server twice a second how far it is, moves the bar, and reloads
// the page once it has ended (the page then shows the count written or the
// bad rows). A static file: the Content-Security-Policy allows no inline script.
(() => {
  "use strict";

  const EVERY_MS = 500;
  const box = document.getElementById("import-progress");
  if (!box || box.dataset.running !== "1") return;
  const bar = document.getElementById("import-bar");
  const set = (id, value) => {
    const el = document.getElementById(id);
    if (el && value !== undefined && value !== null) el.textContent = String(value);
  };

  const poll = async () => {
    try {
      const response = await fetch(box.dataset.url, {
        credentials: "same-origin", headers: { Accept: "application/json" } });
      if (response.ok) {
        const p = await response.json();
        bar.value = p.percent;
        bar.textContent = `${p.percent}%`;
        set("import-done", p.done);
        set("import-total", p.total || "?");
        set("import-errors", p.errors);
        if (!p.running) {
          window.location.reload();
          return;
        }
      }
    } catch (error) {
      // offline for a moment: try again
    }
    setTimeout(poll, EVERY_MS);
  };
  setTimeout(poll, EVERY_MS);
})();
