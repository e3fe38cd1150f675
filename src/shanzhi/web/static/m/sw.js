/* 网格通's service worker, served as /m/sw.js (scope /m/) by web/mobile/pwa.py,
   which puts the configuration below in place of its placeholder:
   - the app shell (every file of static/m/) is precached under a cache named
     after the shell's content hash: a deploy that changes a file installs a new
     worker, which deletes the old shell;
   - /static/: cache-first;
   - /m/ pages, /m/grids.geojson, /api/v1/categories: network-first with the
     cached copy as fallback (the report and outbox pages: from the cache at once,
     refreshed behind), then the offline page;
   - anything but GET (the API's writes) is never touched: the outbox sends those. */
"use strict";

const CONFIG = self.SHANZHI_CONFIG;
const SHELL = "shanzhi-shell-" + CONFIG.version;
const PAGES = "shanzhi-pages";
const DATA = "shanzhi-data";

function cacheable(response) {
  // a redirect is the log-in page or another answer meant for that moment
  return response && response.ok && !response.redirected && response.type === "basic";
}

async function warm() {
  const cache = await caches.open(PAGES);
  await Promise.all(CONFIG.warm.map(async (url) => {
    try {
      const response = await fetch(url, { credentials: "same-origin" });
      if (cacheable(response)) await cache.put(url, response);
    } catch (e) { /* offline at install: the page is cached when first opened */ }
  }));
}

self.addEventListener("install", (event) => {
  event.waitUntil((async () => {
    const shell = await caches.open(SHELL);
    await shell.addAll(CONFIG.shell.concat([CONFIG.offline]));
    await warm();
    await self.skipWaiting();
  })());
});

self.addEventListener("activate", (event) => {
  event.waitUntil((async () => {
    const names = await caches.keys();
    await Promise.all(names.filter((n) => n.startsWith("shanzhi-shell-") && n !== SHELL)
      .map((n) => caches.delete(n)));
    await self.clients.claim();
  })());
});

// The pages show a user's own data: another user on the same phone must not
// see them offline. The pages say who is logged in (outbox.js posts it).
self.addEventListener("message", (event) => {
  const data = event.data || {};
  if (data.type !== "user") return;
  event.waitUntil((async () => {
    const meta = await caches.open("shanzhi-meta");
    const was = await meta.match("/m/__user__");
    const before = was ? await was.text() : null;
    if (before === String(data.user)) return;
    await meta.put("/m/__user__", new Response(String(data.user)));
    if (before !== null) {  // someone else was logged in: forget their pages
      await caches.delete(PAGES);
      await caches.delete(DATA);
      if (data.user) await warm();
    }
  })());
});

async function cacheFirst(request) {
  const hit = await caches.match(request, { ignoreVary: true });
  if (hit) return hit;
  const response = await fetch(request);
  if (cacheable(response)) {
    const copy = response.clone();
    caches.open(SHELL).then((cache) => cache.put(request, copy));
  }
  return response;
}

async function fromCache(request, cacheName) {
  const cache = await caches.open(cacheName);
  // the pages vary by cookie and language: the phone has one user (see "message") and one language
  return (await cache.match(request, { ignoreVary: true }))
    || (await cache.match(request, { ignoreVary: true, ignoreSearch: true }));
}

async function offlineAnswer(request) {
  if (request.mode === "navigate") {
    const page = await caches.match(CONFIG.offline, { ignoreVary: true });
    if (page) return page;
  }
  return new Response("", { status: 503, statusText: "offline" });
}

async function networkFirst(request, cacheName) {
  try {
    const response = await fetch(request);
    if (cacheable(response)) {
      const copy = response.clone();
      caches.open(cacheName).then((cache) => cache.put(request, copy));
    }
    return response;
  } catch (e) {
    return (await fromCache(request, cacheName)) || offlineAnswer(request);
  }
}

function staleWhileRevalidate(event, cacheName) {
  const request = event.request;
  const refresh = fetch(request).then((response) => {
    if (cacheable(response)) {
      const copy = response.clone();
      return caches.open(cacheName).then((cache) => cache.put(request, copy)).then(() => response);
    }
    return response;
  });
  event.waitUntil(refresh.catch(() => null));
  return fromCache(request, cacheName).then((hit) => hit || refresh.catch(() => offlineAnswer(request)));
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  const path = url.pathname;
  if (path.startsWith("/static/")) {
    event.respondWith(cacheFirst(request));
  } else if (CONFIG.networkFirst.includes(path)) {
    event.respondWith(networkFirst(request, DATA));
  } else if (path.startsWith(CONFIG.scope) && path !== "/m/sw.js") {
    if (CONFIG.swr.includes(path) && request.mode === "navigate") {
      event.respondWith(staleWhileRevalidate(event, PAGES));
    } else {
      event.respondWith(networkFirst(request, PAGES));
    }
  }
});
