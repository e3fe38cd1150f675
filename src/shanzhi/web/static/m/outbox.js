/* The outbox of the phone app (docs: briefs' mobile contract, issue 13).

   Any <form data-outbox action="/api/v1/..."> is caught on submit: its fields
   (photos of <input type=file data-resize> first resized to ≤ 1600 px JPEG) are
   stored in IndexedDB with a fresh Idempotency-Key BEFORE the first send, then
   sent as a multipart POST with that key and the CSRF token. Outcome:
     2xx           → "sent"     (event outbox:sent, then data-outbox-next or reload)
     401, CSRF 403 → "waiting"  (log in again; the item is kept)
     other 4xx     → "refused"  (event outbox:refused, the API's message; 409 explained)
     network, 5xx  → "waiting"  (event outbox:queued; retried on `online`, on
                                  every page load and every 30 s)
   None lost: an item leaves "waiting" only on an answer. None doubled: the
   server answers a repeated Idempotency-Key with the first result, and only one
   tab sends an item at a time (navigator.locks, and a "sending" claim taken in
   an IndexedDB transaction, taken over only when older than CLAIM_MS).
   Items belong to the user who made them: another user on the same phone
   neither sees nor sends them.

   window.shanzhiOutbox = {add, flush, list, remove, count, ready} for the
   pages' own scripts (the patrol track). */
(function () {
  "use strict";

  const DB_NAME = "shanzhi-outbox";
  const STORE = "items";
  const RETRY_MS = 30000;
  const CLAIM_MS = 90000;       // a "sending" claim older than this was a tab that died
  const KEEP_SENT_MS = 7 * 24 * 3600 * 1000;
  const MAX_SIDE = 1600;
  const body = document.body;
  const user = body.dataset.user || "";
  const T = readMessages();

  function readMessages() {
    const el = document.getElementById("outbox-messages");
    const defaults = {
      sending: "Sending…", sent: "Sent.", queued: "No network: saved in the outbox, sent when the network returns.",
      refused: "Refused", conflict: "Someone acted first: the case has moved on. Reload to see it.",
      login: "Your session has ended: log in again, the item waits in the outbox.",
      waiting: "Waiting", stateSending: "Sending", stateSent: "Sent", stateRefused: "Refused",
      remove: "Delete", retry: "Send now", empty: "The outbox is empty.", photos: "%(n)s photo(s)",
      tooBig: "The photos are too large to send.",
    };
    try { return Object.assign(defaults, JSON.parse(el.textContent)); } catch (e) { return defaults; }
  }

  // ------------------------------------------------------------ IndexedDB
  let dbPromise = null;
  function db() {
    if (!dbPromise) {
      dbPromise = new Promise((resolve, reject) => {
        const open = indexedDB.open(DB_NAME, 1);
        open.onupgradeneeded = () => {
          const store = open.result.createObjectStore(STORE, { keyPath: "id" });
          store.createIndex("created", "created");
        };
        open.onsuccess = () => resolve(open.result);
        open.onerror = () => reject(open.error);
      });
    }
    return dbPromise;
  }

  // run fn(store) in one transaction; resolves with fn's result once committed
  async function tx(mode, fn) {
    const d = await db();
    return new Promise((resolve, reject) => {
      const t = d.transaction(STORE, mode);
      const store = t.objectStore(STORE);
      let result;
      Promise.resolve(fn(store, (value) => { result = value; })).catch(reject);
      t.oncomplete = () => resolve(result);
      t.onerror = () => reject(t.error);
      t.onabort = () => reject(t.error);
    });
  }

  function req(request) {
    return new Promise((resolve, reject) => {
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
  }

  async function list() {
    const items = await tx("readonly", (store, done) => req(store.getAll()).then(done));
    return (items || []).filter((i) => i.user === user).sort((a, b) => a.seq - b.seq);
  }

  async function get(id) {
    return tx("readonly", (store, done) => req(store.get(id)).then(done));
  }

  async function put(item) {
    return tx("readwrite", (store) => req(store.put(item)));
  }

  async function remove(id) {
    await tx("readwrite", (store) => req(store.delete(id)));
    refreshViews();
  }

  // Claim an item for sending, atomically: two tabs never both get it.
  async function claim(id) {
    return tx("readwrite", async (store, done) => {
      const item = await req(store.get(id));
      const now = Date.now();
      const stale = item && item.state === "sending" && now - (item.sendingSince || 0) > CLAIM_MS;
      if (item && (item.state === "waiting" || stale)) {
        item.state = "sending";
        item.sendingSince = now;
        item.attempts = (item.attempts || 0) + 1;
        await req(store.put(item));
        done(item);
      } else {
        done(null);
      }
    });
  }

  function uuid() {
    if (self.crypto && crypto.randomUUID) return crypto.randomUUID();
    const b = crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    const h = Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  }

  let seqBase = 0;
  function nextSeq() {
    // creation order, even for two items made in the same millisecond
    seqBase = Math.max(seqBase + 1, Date.now() * 1000);
    return seqBase;
  }

  /* Store a new item before anything is sent. fields: [[name, value, filename?]]
     with value a string or a Blob. Returns the stored item. */
  async function add({ id, url, fields, label, next, kind, json }) {
    id = id || uuid();
    const item = {
      id, user, url, label: label || url, next: next || "", kind: kind || "",
      fields: fields || [], json: json === undefined ? null : json,
      created: new Date().toISOString(), seq: nextSeq(),
      state: "waiting", attempts: 0, status: 0, error: "", answer: null,
    };
    await put(item);
    refreshViews();
    return item;
  }

  // ------------------------------------------------------------ sending
  function csrfToken() {
    const m = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    if (m) return decodeURIComponent(m[1]);
    const meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.content : "";
  }

  function requestBody(item) {
    if (item.json !== null && item.json !== undefined) {
      return { body: JSON.stringify(item.json), type: "application/json" };
    }
    const data = new FormData();
    for (const [name, value, filename] of item.fields) {
      if (value instanceof Blob) data.append(name, value, filename || "photo.jpg");
      else data.append(name, value);
    }
    return { body: data, type: null };
  }

  const SEND_TIMEOUT_MS = 45000;

  async function parse(response) {
    try { return await response.json(); } catch (e) { return null; }
  }

  /* Send one claimed item; returns its outcome ("sent" | "refused" | "queued"). */
  async function send(item) {
    const { body: payload, type } = requestBody(item);
    const headers = { "Idempotency-Key": item.id, "X-CSRFToken": csrfToken(), Accept: "application/json" };
    if (type) headers["Content-Type"] = type;
    // a request the network swallows (a half-open connection, a radio that
    // drops mid-upload) is given up after SEND_TIMEOUT_MS: the item waits
    // again, and its key makes the next attempt safe if the first arrived
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), SEND_TIMEOUT_MS);
    let response;
    let answer;
    try {
      response = await fetch(item.url, { method: "POST", body: payload, headers,
        credentials: "same-origin", signal: abort.signal });
      answer = await parse(response);
    } catch (e) {
      return settle(item, "waiting", 0, T.queued, null);
    } finally {
      clearTimeout(timer);
    }
    const error = answer && answer.error ? answer.error : null;
    if (response.ok) return settle(item, "sent", response.status, "", answer);
    if (response.status === 401 || (response.status === 403 && error && /csrf/.test(error.code || ""))) {
      return settle(item, "waiting", response.status, T.login, null);
    }
    if (response.status >= 400 && response.status < 500 && response.status !== 408 && response.status !== 429) {
      let message = error && error.message ? error.message : `${T.refused} (${response.status})`;
      if (response.status === 409) message = `${T.conflict} ${error && error.message ? error.message : ""}`.trim();
      if (response.status === 413) message = T.tooBig;
      return settle(item, "refused", response.status, message, answer);
    }
    return settle(item, "waiting", response.status, T.queued, null);
  }

  async function settle(item, state, status, error, answer) {
    item.state = state;
    item.status = status;
    item.error = error;
    item.sendingSince = 0;
    item.lastTry = new Date().toISOString();
    if (state === "sent") {
      item.answer = answer;
      item.sent = item.lastTry;
      // the photos are on the server now: free the phone's storage
      item.fields = item.fields.map(([n, v, f]) => (v instanceof Blob ? [n, "", f] : [n, v, f]));
      item.photos = item.photos || countPhotos(item);
    } else if (state === "refused") {
      item.answer = answer;
    }
    await put(item);
    return state === "waiting" ? "queued" : state;
  }

  function countPhotos(item) {
    return item.fields.filter(([, , f]) => f).length;
  }

  const listeners = new Map(); // item id → the form that made it (this page only)

  function announce(item, outcome) {
    const form = listeners.get(item.id);
    if (!form) return;
    listeners.delete(item.id); // once queued, the item is the outbox's business
    showStatus(form, outcome, outcome === "sent" ? T.sent : outcome === "queued" ? T.queued : item.error);
    const detail = outcome === "sent" ? { status: item.status, body: item.answer, item }
      : outcome === "refused" ? { status: item.status, error: item.error, body: item.answer, item }
        : { item };
    const proceed = form.dispatchEvent(new CustomEvent(`outbox:${outcome}`, { detail, bubbles: true, cancelable: true }));
    setBusy(form, false);
    if (outcome === "sent" && proceed) {
      const next = form.dataset.outboxNext;
      if (next) {
        const number = item.answer && item.answer.number ? item.answer.number : "";
        window.location.assign(next.replace("{number}", encodeURIComponent(number)));
      } else {
        window.location.reload();
      }
    }
  }

  /* Send every waiting item of this user, oldest first. Stops at the first
     that finds no network (later ones would fail the same way, and a patrol's
     points must not overtake its start). */
  async function flushNow() {
    const items = await list();
    for (const candidate of items) {
      if (candidate.state !== "waiting" && candidate.state !== "sending") continue;
      const item = await claim(candidate.id);
      if (!item) continue;
      refreshViews();
      const outcome = await send(item);
      announce(item, outcome);
      refreshViews();
      if (outcome === "queued") break;
    }
  }

  async function flushLocked() {
    try {
      if (navigator.locks && navigator.locks.request) {
        // one tab at a time; the others wait their turn (then find nothing to claim)
        await navigator.locks.request("shanzhi-outbox", flushNow);
      } else {
        await flushNow();
      }
    } catch (e) {
      console.error("outbox", e);
    }
  }

  let flushing = null;
  let again = false;
  /* Send what waits; a call made while a round runs asks for another round. */
  function flush() {
    if (flushing) { again = true; return flushing; }
    flushing = (async () => {
      do { again = false; await flushLocked(); } while (again);
    })().finally(() => { flushing = null; refreshViews(); });
    return flushing;
  }

  async function prune() {
    const now = Date.now();
    const items = await list();
    for (const item of items) {
      if (item.state === "sent" && now - Date.parse(item.sent || item.created) > KEEP_SENT_MS) {
        await tx("readwrite", (store) => req(store.delete(item.id)));
      }
    }
  }

  // ------------------------------------------------------------ photos
  async function resize(file) {
    if (!file.type || !file.type.startsWith("image/") || !self.createImageBitmap) return file;
    let bitmap;
    try {
      bitmap = await createImageBitmap(file, { imageOrientation: "from-image" });
    } catch (e) {
      return file; // a format the browser cannot decode: sent as it is
    }
    const scale = Math.min(1, MAX_SIDE / Math.max(bitmap.width, bitmap.height));
    if (scale === 1 && file.type === "image/jpeg") { bitmap.close(); return file; }
    const w = Math.max(1, Math.round(bitmap.width * scale));
    const h = Math.max(1, Math.round(bitmap.height * scale));
    const canvas = document.createElement("canvas");
    canvas.width = w;
    canvas.height = h;
    canvas.getContext("2d").drawImage(bitmap, 0, 0, w, h);
    bitmap.close();
    const blob = await new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg", 0.85));
    if (!blob) return file;
    const name = (file.name || "photo").replace(/\.[^.]*$/, "") + ".jpg";
    return new File([blob], name, { type: "image/jpeg", lastModified: file.lastModified });
  }

  async function formFields(form, submitter) {
    const data = submitter ? new FormData(form, submitter) : new FormData(form);
    const resizeNames = new Set(Array.from(form.querySelectorAll("input[type=file][data-resize]"), (i) => i.name));
    const fields = [];
    for (const [name, value] of data.entries()) {
      if (name === "csrfmiddlewaretoken") continue;
      if (value instanceof File) {
        if (!value.size && !value.name) continue; // an empty file input
        const file = resizeNames.has(name) ? await resize(value) : value;
        fields.push([name, file, file.name || "photo.jpg"]);
      } else {
        fields.push([name, value]);
      }
    }
    return fields;
  }

  // ------------------------------------------------------------ forms
  function showStatus(form, outcome, text) {
    const el = form.querySelector("[data-outbox-status]");
    if (!el) return;
    el.className = el.className.replace(/\bis-\w+/g, "").trim() + (outcome ? ` is-${outcome}` : "");
    el.textContent = text || "";
  }

  function setBusy(form, busy) {
    form.toggleAttribute("data-outbox-busy", busy);
    for (const b of form.querySelectorAll("button[type=submit], button:not([type]), input[type=submit]")) {
      b.disabled = busy;
    }
  }

  document.addEventListener("submit", async (event) => {
    const form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.hasAttribute("data-outbox")) return;
    event.preventDefault();
    if (form.hasAttribute("data-outbox-busy")) return; // a double tap
    setBusy(form, true);
    showStatus(form, "sending", T.sending);
    const id = uuid();
    try {
      const fields = await formFields(form, event.submitter);
      listeners.set(id, form);
      // stored before the first send: from here on it cannot be lost
      await add({
        id, url: form.getAttribute("action"), fields, label: form.dataset.outboxLabel,
        next: form.dataset.outboxNext, kind: form.dataset.outboxKind,
      });
      await flush(); // in order: an older item waiting keeps this one behind it
      const item = await get(id);
      if (item && listeners.has(id)) announce(item, item.state === "refused" ? "refused" : "queued");
    } catch (e) {
      console.error("outbox", e);
      listeners.delete(id);
      setBusy(form, false);
      showStatus(form, "refused", String(e));
    }
  }, true);

  // ------------------------------------------------------------ views: badge, network, outbox page
  let viewsPending = false;
  function refreshViews() {
    if (viewsPending) return;
    viewsPending = true;
    setTimeout(async () => {
      viewsPending = false;
      let items = [];
      try { items = await list(); } catch (e) { return; }
      const open = items.filter((i) => i.state !== "sent").length;
      for (const badge of document.querySelectorAll("[data-outbox-count]")) {
        badge.textContent = String(open);
        badge.hidden = open === 0;
      }
      const listEl = document.querySelector("[data-outbox-list]");
      if (listEl) renderList(listEl, items);
      document.dispatchEvent(new CustomEvent("outbox:changed", { detail: { items } }));
    }, 30);
  }

  const STATE_WORDS = () => ({ waiting: T.waiting, sending: T.stateSending, sent: T.stateSent, refused: T.stateRefused });

  function renderList(listEl, items) {
    const words = STATE_WORDS();
    listEl.textContent = "";
    const shown = items.slice().reverse();
    const empty = document.querySelector("[data-outbox-empty]");
    if (empty) empty.hidden = shown.length > 0;
    for (const item of shown) {
      const li = document.createElement("li");
      li.className = "m-item";
      li.dataset.state = item.state;
      li.dataset.id = item.id;
      const main = document.createElement("div");
      main.className = "m-item-main";
      const title = document.createElement("strong");
      title.textContent = item.label;
      const when = document.createElement("div");
      when.className = "m-muted";
      const photos = item.photos || countPhotos(item);
      when.textContent = new Date(item.created).toLocaleString() +
        (photos ? " · " + T.photos.replace("%(n)s", photos) : "");
      main.append(title, when);
      if (item.error && item.state !== "sent") {
        const why = document.createElement("div");
        why.className = item.state === "refused" ? "m-notice m-notice-error" : "m-muted";
        why.textContent = item.error;
        main.append(why);
      }
      if (item.state === "sent" && item.answer && item.answer.number) {
        const link = document.createElement("a");
        link.href = `/m/incidents/${encodeURIComponent(item.answer.number)}/`;
        link.textContent = item.answer.number;
        main.append(link);
      }
      const state = document.createElement("span");
      state.className = `m-item-state ${item.state}`;
      state.textContent = words[item.state] || item.state;
      li.append(main, state);
      if (item.state === "refused") {
        const del = document.createElement("button");
        del.type = "button";
        del.className = "m-btn";
        del.dataset.outboxDelete = item.id;
        del.textContent = T.remove;
        li.append(del);
      }
      listEl.append(li);
    }
  }

  document.addEventListener("click", (event) => {
    const del = event.target.closest("[data-outbox-delete]");
    if (del) { remove(del.dataset.outboxDelete); return; }
    if (event.target.closest("[data-outbox-flush]")) flush();
  });

  // previews of the photos chosen in a file input followed by [data-previews]
  document.addEventListener("change", (event) => {
    const input = event.target;
    if (!(input instanceof HTMLInputElement) || input.type !== "file") return;
    const box = input.nextElementSibling;
    if (!box || !box.hasAttribute("data-previews")) return;
    for (const img of box.querySelectorAll("img")) URL.revokeObjectURL(img.src);
    box.textContent = "";
    for (const file of input.files) {
      const img = document.createElement("img");
      img.src = URL.createObjectURL(file);
      img.alt = file.name;
      box.append(img);
    }
  });

  function showNetwork() {
    for (const el of document.querySelectorAll("[data-net]")) el.hidden = navigator.onLine;
  }

  window.addEventListener("online", () => { showNetwork(); flush(); });
  window.addEventListener("offline", showNetwork);
  document.addEventListener("visibilitychange", () => { if (!document.hidden) flush(); });
  setInterval(flush, RETRY_MS);

  // ------------------------------------------------------------ service worker
  if ("serviceWorker" in navigator && body.dataset.sw) {
    navigator.serviceWorker.register(body.dataset.sw, { scope: "/m/" }).then(() => navigator.serviceWorker.ready)
      .then((reg) => { if (reg.active) reg.active.postMessage({ type: "user", user }); })
      .catch((e) => console.warn("service worker", e));
  }

  const ready = (async () => {
    showNetwork();
    refreshViews();
    await prune().catch(() => null);
    flush();
  })();

  window.shanzhiOutbox = { add, flush, list, remove, get, resize, ready, refresh: refreshViews };
})();
