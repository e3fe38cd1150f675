// The demo's progress banner (parts/demo_banner.html): asks the server every
// ten seconds how far the history is, shows the new text, and goes away when
// the history is built (the answer's text is null). A static file: the
// Content-Security-Policy allows no inline script.
(() => {
  "use strict";

  const EVERY_MS = 10_000;
  const banner = document.getElementById("demo-banner");
  if (!banner || !banner.dataset.url) return;

  const refresh = async () => {
    try {
      const response = await fetch(banner.dataset.url, {
        credentials: "same-origin", headers: { Accept: "application/json" } });
      if (!response.ok) return;
      const { text } = await response.json();
      if (!text) {
        banner.hidden = true;
        clearInterval(timer);
        return;
      }
      banner.textContent = text;
    } catch (error) {
      // offline for a moment: try again at the next tick
    }
  };
  const timer = setInterval(refresh, EVERY_MS);
})();
