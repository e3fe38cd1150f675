// Small behaviours of every page, in a file because the Content-Security-Policy
// (core/middleware.py) allows no inline script and no eval. The listeners sit
// on the document, so they also serve the parts htmx swaps in.
(() => {
  "use strict";

  const isInput = (el) => el instanceof HTMLInputElement;

  // <input type="text" data-focus-type="date">: a date (or date-time) picker
  // while focused, the typed text otherwise; with data-keep-filled the picker
  // stays once the field holds a value.
  document.addEventListener("focusin", (event) => {
    const input = event.target;
    if (isInput(input) && input.dataset.focusType) input.type = input.dataset.focusType;
  });
  document.addEventListener("focusout", (event) => {
    const input = event.target;
    if (!isInput(input) || !input.dataset.focusType) return;
    if (input.hasAttribute("data-keep-filled") && input.value) return;
    input.type = "text";
  });

  // A photo picker (parts/photo_pick.html): the chosen names, and the limits of
  // one request checked before anything is sent (the server checks again).
  document.addEventListener("change", (event) => {
    const input = event.target;
    if (!isInput(input) || input.type !== "file" || !input.closest(".file-pick")) return;
    const files = Array.from(input.files || []);
    const names = input.closest(".file-pick").querySelector(".file-names");
    if (names) names.textContent = files.map((f) => f.name).join("、") || names.dataset.none || "";
    const problem = photoProblem(input.dataset, files);
    input.setCustomValidity(problem);
    const note = input.closest(".field")?.querySelector(".photo-problem");
    if (note) {
      note.textContent = problem;
      note.hidden = !problem;
    }
  });

  function photoProblem(limits, files) {
    const tooBig = files.find((f) => f.size > Number(limits.maxFileBytes || Infinity));
    if (tooBig) return (limits.tooBig || "").replace("{name}", tooBig.name);
    if (files.length > Number(limits.maxFiles || Infinity)) return limits.tooMany || "";
    const total = files.reduce((sum, f) => sum + f.size, 0);
    if (total > Number(limits.maxTotalBytes || Infinity)) return limits.tooMuch || "";
    return "";
  }

  // The incident page's actions: a button opens its form and closes the others.
  document.addEventListener("click", (event) => {
    const button = event.target.closest?.(".incident-actions .action-buttons button[data-action]");
    if (!button) return;
    const section = button.closest(".incident-actions");
    const open = button.dataset.action;
    section.dataset.open = open;
    for (const other of section.querySelectorAll(".action-buttons button[data-action]")) {
      const on = other.dataset.action === open;
      other.classList.toggle("on", on);
      other.setAttribute("aria-expanded", String(on));
    }
    for (const form of section.querySelectorAll("form.action-form[data-action]")) {
      form.hidden = form.dataset.action !== open;
    }
  });

  // The top menu on a phone is a row that scrolls sideways (base.css): the
  // current entry is brought into view, and the row fades out at an edge
  // while entries lie beyond it.
  const menu = document.querySelector(".topnav");
  if (menu) {
    const fade = () => {
      menu.classList.toggle("more-left", menu.scrollLeft > 1);
      menu.classList.toggle("more-right", menu.scrollLeft + menu.clientWidth < menu.scrollWidth - 1);
    };
    const current = menu.querySelector("a.active");
    if (current && menu.scrollWidth > menu.clientWidth) {
      const row = menu.getBoundingClientRect(), entry = current.getBoundingClientRect();
      menu.scrollLeft += entry.left - row.left - (row.width - entry.width) / 2;
    }
    fade();
    menu.addEventListener("scroll", fade, { passive: true });
    window.addEventListener("resize", fade);
  }
})();
