// The intake form (新建事件): the urgencies and extra fields of the chosen
// category, the fields of the chosen way to give the place, the description's
// counter. The server renders the first state; this file keeps it in step
// (no inline script or eval: see core/middleware.py's Content-Security-Policy).
(() => {
  "use strict";

  const form = document.getElementById("intake-form");
  if (!form) return;
  const rules = JSON.parse(document.getElementById("category-rules").textContent);
  const category = form.querySelector("#i-category");
  const description = form.querySelector("#i-description");
  const counter = form.querySelector('[data-counter-for="i-description"]');
  // No maxlength on the description (a paste would be cut in silence): past
  // its limit the counter turns red and says how many characters too many,
  // and the form refuses to submit, the text kept as typed.
  const limit = Number(description.dataset.maxLength) || 0;
  const counterLine = counter.closest(".counter-line");
  const over = counterLine.querySelector("[data-counter-over]");
  const refusal = form.querySelector("[data-description-refusal]");

  function showCategory() {
    const chosen = category.value;
    const allowed = rules[chosen] ? rules[chosen].urgencies : ["normal"];
    let lost = false;
    for (const label of form.querySelectorAll("[data-urgency]")) {
      const ok = allowed.includes(label.dataset.urgency);
      const radio = label.querySelector("input");
      label.hidden = !ok;
      radio.disabled = !ok;
      if (!ok && radio.checked) {
        radio.checked = false;
        lost = true;
      }
    }
    if (lost) form.querySelector('[data-urgency="normal"] input').checked = true;
    for (const fieldset of form.querySelectorAll("fieldset.extra-fields[data-category]")) {
      const on = fieldset.dataset.category === chosen;
      fieldset.hidden = !on;
      fieldset.disabled = !on;
    }
  }

  function showPlace() {
    const way = form.querySelector('input[name="locate"]:checked')?.value || "point";
    for (const part of form.querySelectorAll("[data-locate]")) {
      part.hidden = part.dataset.locate !== way;
    }
    form.querySelector("#i-lng").required = way === "point";
    form.querySelector("#i-lat").required = way === "point";
    form.querySelector("#i-region").required = way === "address";
  }

  // characters as the server counts them (code points, a line break as one)
  const length = () => Array.from(description.value).length;

  function count() {
    const n = length();
    const excess = limit ? n - limit : 0;
    counter.textContent = String(n);
    counterLine.classList.toggle("over", excess > 0);
    over.hidden = excess <= 0;
    over.textContent = excess > 0 ? ` · ${counterLine.dataset.over.replace("{n}", excess)}` : "";
    description.setCustomValidity(
      excess > 0 ? counterLine.dataset.refuse.replace("{n}", excess) : "");
    if (excess <= 0 && !refusal.hidden) {
      refusal.hidden = true;
      description.removeAttribute("aria-invalid");
    }
  }

  function refuse(event) {
    if (!limit || length() <= limit) return;
    event.preventDefault();
    refusal.textContent = description.validationMessage;
    refusal.hidden = false;
    description.setAttribute("aria-invalid", "true");
  }

  category.addEventListener("change", showCategory);
  description.addEventListener("input", count);
  description.addEventListener("invalid", refuse);  // the browser refused the submit
  form.addEventListener("submit", refuse);
  form.addEventListener("change", (event) => {
    if (event.target.name === "locate") showPlace();
  });
  // the browser may have restored other values (back button): follow them
  showCategory();
  showPlace();
  count();
})();
