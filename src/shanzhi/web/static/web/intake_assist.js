// 智能受理: the intake form's assistant. As the call is typed (debounced), the
// form so far is posted to web:intake_assist, which answers an HTML fragment:
// the likely categories as chips with their confidence and the model's own
// cross-validated figures, the possible duplicates (each with a "merge into"
// submit button), the caller's earlier reports, and the place the address
// resolves to. Each part goes into the form's slot of the same name. A chip
// chooses its category; a confidently placed address moves the map's point
// (and, when the place is given by a point not yet set, fills it in). The
// address field offers a type-ahead (web:intake_places, a <datalist>).
// No inline script or eval (core/middleware.py's Content-Security-Policy).
//
// For tests: the form's data-assist attribute is "busy" while asking and
// "done" once an answer is shown; window.__intakeAssistAnswers counts them.
(() => {
  "use strict";

  const form = document.getElementById("intake-form");
  if (!form || !form.dataset.assistUrl) return;
  const DELAY_MS = 450;
  const TYPEAHEAD_MS = 200;
  const FIELDS = ["description", "category", "locate", "lng", "lat", "address", "region",
                  "contact_phone"];
  const field = (name) => form.elements.namedItem(name);
  const csrf = () => (form.querySelector('input[name="csrfmiddlewaretoken"]') || {}).value || "";
  window.__intakeAssistAnswers = 0;

  // ------------------------------------------------------------ the hints

  let timer = null;
  let asked = 0; // the newest question; older answers are dropped

  function later(delay = DELAY_MS) {
    clearTimeout(timer);
    asked += 1; // what is on its way answers words that have changed since: drop it
    form.dataset.assist = "busy";
    timer = setTimeout(ask, delay);
  }

  function typedSomething() {
    return ["description", "address", "contact_phone"].some((name) => {
      const input = field(name);
      return input && input.value.trim() !== "";
    });
  }

  async function ask() {
    const seq = ++asked;
    if (!typedSomething()) {
      show(null, seq);
      return;
    }
    const body = new FormData();
    for (const name of FIELDS) {
      const input = field(name);
      if (input) body.append(name, input.value);
    }
    const locate = form.querySelector('input[name="locate"]:checked');
    body.set("locate", locate ? locate.value : "point");
    form.dataset.assist = "busy";
    try {
      const response = await fetch(form.dataset.assistUrl, {
        method: "POST", body, credentials: "same-origin",
        headers: { "X-CSRFToken": csrf(), Accept: "text/html" } });
      const html = await response.text();
      show(html, seq);
    } catch (error) {
      console.warn("the intake assistant could not be asked", error);
      if (seq === asked) form.dataset.assist = "done";
    }
  }

  function show(html, seq) {
    if (seq !== asked) return;
    const parts = new Map();
    if (html) {
      const answer = document.createElement("template");
      answer.innerHTML = html;
      for (const part of answer.content.querySelectorAll("[data-assist-part]")) {
        parts.set(part.dataset.assistPart, part);
      }
    }
    for (const slot of form.querySelectorAll("[data-assist-slot]")) {
      const part = parts.get(slot.dataset.assistSlot);
      slot.replaceChildren(...(part ? Array.from(part.childNodes) : []));
      slot.hidden = !slot.textContent.trim();
    }
    usePlace(parts.get("place"));
    form.dataset.assist = "done";
    window.__intakeAssistAnswers += 1;
  }

  // a confident place: the map shows it; a point not yet set is set to it,
  // and an empty community select gets the place's community when listed
  function usePlace(part) {
    if (!part || part.dataset.placeConfident !== "true" || !part.dataset.placeLng) return;
    const point = [Number(part.dataset.placeLng), Number(part.dataset.placeLat)];
    const byPoint = (form.querySelector('input[name="locate"]:checked') || {}).value !== "address";
    const lng = field("lng");
    const lat = field("lat");
    if (byPoint && lng && lat && !lng.value.trim() && !lat.value.trim()) {
      lng.value = point[0];
      lat.value = point[1];
      lng.dispatchEvent(new Event("change", { bubbles: true }));  // intake.js draws it
      return;
    }
    const region = field("region");
    const code = part.dataset.placeRegion;
    if (!byPoint && region && !region.value && code &&
        region.querySelector(`option[value="${CSS.escape(code)}"]`)) {
      region.value = code;
    }
    if (!byPoint) document.dispatchEvent(new CustomEvent("intake:place", { detail: { point } }));
  }

  form.addEventListener("input", (event) => {
    if (["description", "address", "contact_phone", "lng", "lat"].includes(event.target.name)) {
      later();
    }
  });
  form.addEventListener("change", (event) => {
    if (["category", "locate", "region", "lng", "lat"].includes(event.target.name)) later(50);
  });

  // a chip chooses its category (intake_form.js shows its urgencies and fields)
  form.addEventListener("click", (event) => {
    const chip = event.target.closest("[data-assist-category]");
    if (!chip) return;
    const select = field("category");
    select.value = chip.dataset.assistCategory;
    select.dispatchEvent(new Event("change", { bubbles: true }));
    for (const other of form.querySelectorAll("[data-assist-category]")) {
      const on = other === chip;
      other.classList.toggle("is-chosen", on);
      other.setAttribute("aria-pressed", String(on));
    }
  });

  // ------------------------------------------------------------ type-ahead

  const address = field("address");
  const options = document.getElementById("i-address-options");
  let typing = null;
  let searched = 0;
  if (address && options && form.dataset.placesUrl) {
    address.addEventListener("input", () => {
      clearTimeout(typing);
      typing = setTimeout(complete, TYPEAHEAD_MS);
    });
  }

  async function complete() {
    const q = address.value.trim();
    const seq = ++searched;
    if (!q) {
      options.replaceChildren();
      return;
    }
    try {
      const response = await fetch(`${form.dataset.placesUrl}?q=${encodeURIComponent(q)}`,
                                    { credentials: "same-origin",
                                      headers: { Accept: "application/json" } });
      if (!response.ok || seq !== searched) return;
      const answer = await response.json();
      if (seq !== searched) return;
      options.replaceChildren(...answer.items.map((item) => {
        const option = document.createElement("option");
        option.value = item.label;
        option.label = item.kind_label ? `${item.label} · ${item.kind_label}` : item.label;
        return option;
      }));
    } catch (error) {
      console.warn("the address type-ahead could not be asked", error);
    }
  }

  for (const slot of form.querySelectorAll("[data-assist-slot]")) slot.hidden = true;
  // the browser may have restored a typed form (back button): help with it
  if (typedSomething()) later(0);
})();
