/* 上报: the report form of the phone (web/m/report.html). The form itself is
   a data-outbox form (outbox.js sends it); this script fills its hidden
   fields: the category (picker with search, most used first), its extra
   fields as JSON, the point (the phone's position in the chosen coordinate
   system, or a tap on the minimap, which is WGS-84), and checks the grid
   before sending (/api/v1/geo/locate; offline, the cached grids when the
   point is WGS-84). A point outside my grids may be sent anyway to my
   community's centre: without the point, with an address and the community.
   When online, the city's model suggests categories for the description:
   chips under it (web:intake_assist). */
(function () {
  "use strict";

  const form = document.getElementById("report-form");
  if (!form) return;
  const $ = (name) => form.querySelector(`[data-r="${name}"]`);
  const catalogue = JSON.parse(document.getElementById("report-catalogue").textContent);
  const config = JSON.parse(document.getElementById("report-config").textContent);
  const T = config.messages;
  const fmt = (text, values) => text.replace(/%\((\w+)\)s/g, (_, k) => String(values[k] ?? ""));
  const CRS_KEY = "shanzhi.deviceCrs";

  const state = {
    category: null, position: null, // {lng, lat, accuracy, crs, source: "gps" | "tap"}
    check: null, // the answer about the point: {ok, message, grid, community}
  };

  // ------------------------------------------------------------ categories
  const byCode = new Map(catalogue.items.map((c) => [c.code, c]));
  const top = catalogue.top.filter((code) => byCode.has(code));
  const list = $("cat-list");
  const search = $("cat-search");

  function renderCategories() {
    const q = search.value.trim().toLowerCase();
    let items;
    if (!q) {
      const rest = catalogue.items.filter((c) => !top.includes(c.code));
      items = top.map((code) => byCode.get(code)).concat(rest);
    } else {
      items = catalogue.items.filter((c) => c.code.toLowerCase().includes(q) ||
        c.name.toLowerCase().includes(q) || c.group.toLowerCase().includes(q));
    }
    list.textContent = "";
    // once chosen, the list folds away until the worker searches again
    list.hidden = Boolean(state.category) && !q;
    if (!items.length) {
      const li = document.createElement("li");
      li.className = "m-empty";
      li.textContent = T.noMatch;
      list.append(li);
      return;
    }
    for (const c of items) {
      const li = document.createElement("li");
      const b = document.createElement("button");
      b.type = "button";
      b.dataset.code = c.code;
      b.setAttribute("aria-pressed", String(state.category === c.code));
      const code = document.createElement("span");
      code.className = "m-cat-code";
      code.textContent = c.code;
      const name = document.createElement("span");
      name.className = "m-cat-name";
      name.textContent = `${c.group} · ${c.name}`;
      b.append(code, name);
      if (!q && top.includes(c.code)) {
        const mark = document.createElement("span");
        mark.className = "m-cat-top";
        mark.textContent = T.mostUsed;
        b.append(mark);
      }
      li.append(b);
      list.append(li);
    }
  }

  function choose(code) {
    state.category = code;
    const c = byCode.get(code);
    $("category").value = code || "";
    const picked = $("cat-picked");
    picked.hidden = !c;
    picked.textContent = c ? fmt(T.chosen, { name: `${c.code} ${c.group} · ${c.name}` }) : "";
    renderExtra(c);
    renderUrgencies(c);
    renderCategories();
  }

  list.addEventListener("click", (event) => {
    const b = event.target.closest("button[data-code]");
    if (b) { choose(b.dataset.code); search.value = ""; renderCategories(); }
  });
  search.addEventListener("input", renderCategories);

  // extra fields: inputs without a name (the API takes them as JSON in "extra")
  function renderExtra(c) {
    const box = $("extra-fields");
    box.textContent = "";
    for (const f of (c ? c.extra : [])) {
      const wrap = document.createElement("div");
      wrap.className = "m-field";
      const label = document.createElement("label");
      const id = `r-extra-${f.code}`;
      label.htmlFor = id;
      label.textContent = f.name + (f.required ? " *" : "");
      let input;
      if (f.values && f.values.length) {
        input = document.createElement("select");
        const none = document.createElement("option");
        none.value = "";
        none.textContent = "—";
        input.append(none);
        for (const [key, name] of f.values) {
          const o = document.createElement("option");
          o.value = key;
          o.textContent = name;
          input.append(o);
        }
      } else {
        input = document.createElement("input");
        input.type = f.widget === "number" ? "number" : "text";
      }
      input.id = id;
      input.dataset.extra = f.code;
      input.required = !!f.required;
      wrap.append(label, input);
      if (f.hint) {
        const hint = document.createElement("p");
        hint.className = "m-hint";
        hint.textContent = f.hint;
        wrap.append(hint);
      }
      box.append(wrap);
    }
    writeExtra();
  }

  function writeExtra() {
    const extra = {};
    for (const input of form.querySelectorAll("[data-extra]")) {
      if (input.value !== "") extra[input.dataset.extra] = input.value;
    }
    $("extra").value = Object.keys(extra).length ? JSON.stringify(extra) : "";
  }
  $("extra-fields").addEventListener("input", writeExtra);
  $("extra-fields").addEventListener("change", writeExtra);

  function renderUrgencies(c) {
    const box = $("urgencies");
    box.textContent = "";
    const codes = c ? c.urgencies : [];
    $("urgency-box").hidden = codes.length < 2;
    const words = config.urgencyLabels || {};
    codes.forEach((code, i) => {
      const label = document.createElement("label");
      const input = document.createElement("input");
      input.type = "radio";
      input.name = "urgency";
      input.value = code;
      input.checked = i === 0;
      label.append(input, document.createTextNode(" " + (words[code] || code)));
      box.append(label);
    });
  }

  // ------------------------------------------------------------ suggestions
  // When online, the city's model suggests categories for the description
  // (web:intake_assist as JSON): chips under it, a tap chooses one.
  const SUGGEST_MS = 600;
  const suggestBox = $("suggest");
  const description = form.querySelector("textarea[name=description]");
  let suggestTimer = null;
  let suggesting = 0;

  async function suggest() {
    const text = description.value.trim();
    const ticket = ++suggesting;
    if (!text || !navigator.onLine || !config.assist) { renderSuggestions([]); return; }
    const body = new FormData();
    body.append("description", text);
    let answer = null;
    try {
      const token = document.querySelector('meta[name="csrf-token"]');
      const response = await fetch(config.assist, {
        method: "POST", body, credentials: "same-origin",
        headers: { Accept: "application/json", "X-CSRFToken": token ? token.content : "" } });
      if (response.ok) answer = await response.json();
    } catch (e) { /* offline: no chips */ }
    if (ticket !== suggesting) return; // typed on meanwhile
    renderSuggestions(answer ? answer.suggestions.filter((s) => byCode.has(s.code)) : []);
  }

  function renderSuggestions(items) {
    suggestBox.textContent = "";
    suggestBox.hidden = !items.length;
    if (!items.length) return;
    const lead = document.createElement("span");
    lead.className = "m-suggest-lead";
    lead.textContent = T.suggested;
    suggestBox.append(lead);
    for (const s of items) {
      const b = document.createElement("button");
      b.type = "button";
      b.className = "m-chip";
      b.dataset.suggest = s.code;
      b.setAttribute("aria-pressed", String(state.category === s.code));
      const percent = `${Math.round(s.confidence * 100)}%`;
      b.title = fmt(T.suggestedTitle, { name: s.name, percent });
      const name = document.createElement("span");
      name.textContent = s.name;
      const conf = document.createElement("b");
      conf.textContent = percent;
      b.append(name, conf);
      suggestBox.append(b);
    }
  }

  description.addEventListener("input", () => {
    clearTimeout(suggestTimer);
    suggestTimer = setTimeout(suggest, SUGGEST_MS);
  });
  suggestBox.addEventListener("click", (event) => {
    const b = event.target.closest("button[data-suggest]");
    if (!b) return;
    choose(b.dataset.suggest);
    for (const other of suggestBox.querySelectorAll("button[data-suggest]")) {
      other.setAttribute("aria-pressed", String(other === b));
    }
  });

  // ------------------------------------------------------------ position
  const map = window.shanzhiMinimap.create($("map"), {
    grids: config.grids,
    onTap: (lng, lat) => setPosition({ lng, lat, accuracy: null, crs: "wgs84", source: "tap" }),
  });

  const crsRadios = Array.from(document.querySelectorAll('input[name="device_crs_choice"]'));
  const savedCrs = localStorage.getItem(CRS_KEY);
  for (const r of crsRadios) r.checked = r.value === (savedCrs || "wgs84");
  const deviceCrs = () => (crsRadios.find((r) => r.checked) || { value: "wgs84" }).value;
  for (const r of crsRadios) {
    r.addEventListener("change", () => {
      localStorage.setItem(CRS_KEY, deviceCrs());
      if (state.position && state.position.source === "gps") {
        setPosition({ ...state.position, crs: deviceCrs() });
      }
    });
  }

  function setPosition(p) {
    state.position = p;
    $("lng").value = p.lng.toFixed(6);
    $("lat").value = p.lat.toFixed(6);
    $("crs").value = p.crs;
    const pos = $("pos");
    if (p.source === "tap") {
      pos.textContent = `${T.placed} ${p.lng.toFixed(6)}, ${p.lat.toFixed(6)}`;
      map.setPoint(p.lng, p.lat);
    } else {
      pos.textContent = `${p.lng.toFixed(6)}, ${p.lat.toFixed(6)} ` +
        (p.accuracy ? fmt(T.accuracy, { m: Math.round(p.accuracy) }) : "");
      map.setPoint(null, null);
      // a WGS-84 position is drawn at once; another system after the server converts it
      if (p.crs === "wgs84") map.setPosition(p.lng, p.lat, p.accuracy);
    }
    checkPoint();
  }

  function locate() {
    if (!navigator.geolocation) { $("pos").textContent = T.noGeo; return; }
    $("pos").textContent = T.locating;
    navigator.geolocation.getCurrentPosition((pos) => {
      setPosition({ lng: pos.coords.longitude, lat: pos.coords.latitude,
        accuracy: pos.coords.accuracy, crs: deviceCrs(), source: "gps" });
    }, (err) => {
      $("pos").textContent = err && err.code === 1 ? T.geoDenied : T.noGeo;
    }, { enableHighAccuracy: true, timeout: 20000, maximumAge: 30000 });
  }
  $("locate").addEventListener("click", locate);

  // ------------------------------------------------------------ where the point lies
  const where = $("where");
  const anywayBox = $("anyway-box");
  const anyway = $("anyway");

  function say(kind, text) {
    where.textContent = "";
    if (!text) return;
    const p = document.createElement("p");
    p.className = `m-notice m-notice-${kind}`;
    p.textContent = text;
    where.append(p);
  }

  function myCommunity(codes) {
    const mine = config.communities;
    return mine.find((c) => codes.includes(c.code)) || mine[0] || null;
  }

  let checking = 0;
  async function checkPoint() {
    const p = state.position;
    if (!p) return;
    const ticket = ++checking;
    let answer = null;
    try {
      const url = `${config.locate}?lng=${p.lng}&lat=${p.lat}&crs=${p.crs}`;
      const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
      if (response.ok) answer = await response.json();
    } catch (e) { /* offline */ }
    if (ticket !== checking) return; // a newer point was placed meanwhile
    if (answer) {
      if (p.source === "gps" && p.crs !== "wgs84") map.setPosition(answer.lng, answer.lat, p.accuracy);
      const codes = (answer.regions || []).map((r) => r.code);
      if (answer.in_territory) {
        state.check = { ok: true };
        say("ok", fmt(T.inGrid, { grid: answer.grid ? answer.grid.name : "" }));
      } else {
        const place = answer.grid ? answer.grid.name : (answer.regions[0] || {}).name || "";
        state.check = { ok: false, place, community: myCommunity(codes) };
        say("warn", `${T.outside}：${answer.territory_message || fmt(T.outsideIn, { place })}`);
      }
    } else if (p.crs === "wgs84") {
      await map.ready;
      const grid = map.gridAt(p.lng, p.lat);
      if (grid) {
        state.check = { ok: true };
        say("ok", `${fmt(T.inGrid, { grid: grid.properties.name })} ${T.checkOffline}`);
      } else {
        state.check = { ok: false, place: "", community: myCommunity([]) };
        say("warn", `${T.outside}。${T.checkOffline}`);
      }
    } else {
      state.check = { ok: true, unknown: true };
      say("warn", T.unknownOffline);
    }
    const outside = state.check && !state.check.ok;
    anywayBox.hidden = !outside || !state.check.community;
    if (!outside) anyway.checked = false;
    applyAnyway();
  }

  // "send anyway": no point; the address says where, the region is my community
  function applyAnyway() {
    const p = state.position;
    const on = anyway.checked && state.check && !state.check.ok && state.check.community;
    if (on) {
      $("lng").value = "";
      $("lat").value = "";
      $("region").value = state.check.community.code;
      $("address").value = fmt(T.addressAuto, {
        place: state.check.place || state.check.community.name,
        lng: p.lng.toFixed(6), lat: p.lat.toFixed(6) }).slice(0, 300);
      $("anyway-label").textContent = `${T.sendAnyway}（${fmt(T.sendAnywayOn, { community: state.check.community.name })}）`;
    } else {
      if (p) { $("lng").value = p.lng.toFixed(6); $("lat").value = p.lat.toFixed(6); }
      $("region").value = "";
      $("address").value = "";
      $("anyway-label").textContent = T.sendAnyway;
    }
  }
  anyway.addEventListener("change", applyAnyway);

  // ------------------------------------------------------------ photos
  const photos = form.querySelector("input[type=file][data-resize]");
  let urls = [];
  function previews() {
    for (const u of urls) URL.revokeObjectURL(u);
    urls = [];
    const box = $("previews");
    box.textContent = "";
    for (const file of photos.files) {
      const u = URL.createObjectURL(file);
      urls.push(u);
      const img = document.createElement("img");
      img.src = u;
      img.alt = file.name;
      box.append(img);
    }
  }
  photos.addEventListener("change", previews);

  // ------------------------------------------------------------ before and after sending
  // runs before outbox.js (window capture comes before document capture)
  window.addEventListener("submit", (event) => {
    if (event.target !== form) return;
    writeExtra();
    let problem = "";
    if (!state.category) problem = T.noCategory;
    else if (!state.position) problem = T.noPoint;
    if (problem) {
      event.preventDefault();
      event.stopImmediatePropagation();
      const status = form.querySelector("[data-outbox-status]");
      status.className = "m-status is-refused";
      status.textContent = problem;
      (state.category ? $("locate") : search).focus();
    }
  }, true);

  // queued (no network): the form is ready for the next report, the place stays
  form.addEventListener("outbox:queued", () => {
    form.querySelector("textarea[name=description]").value = "";
    renderSuggestions([]);
    photos.value = "";
    previews();
    choose(null);
  });

  renderCategories();
  renderUrgencies(null);
  locate();
  document.body.dataset.ready = "1";
})();
