// The tablet app's service worker (served at /tablet/sw.js, scope /tablet/): keeps the app shell
// so the app opens and works without signal. Our files are fetched from the network first, so a
// tablet with signal always runs what the server serves now, and every fresh copy replaces the
// kept one; without an answer in time, the kept copy is used. API answers are never kept, except
// the map's polygons (no personal data); the tasks the app keeps itself, in IndexedDB.

const SHELL_CACHE = "tablet-shell-v1";
const DATA_CACHE = "tablet-data";
const KEPT = new Set([SHELL_CACHE, DATA_CACHE]);
const WAIT_FOR_NETWORK_MS = 4000;

const SHELL = [
  "/tablet/",
  "/tablet/manifest.webmanifest",
  "/static/tablet/app.js",
  "/static/tablet/store.js",
  "/static/tablet/tasks.js",
  "/static/tablet/outbox.js",
  "/static/tablet/ring.js",
  "/static/tablet/position.js",
  "/static/tablet/mapview.js",
  "/static/tablet/view.js",
  "/static/tablet/tablet.css",
  "/static/tablet/icon.svg",
  "/static/tablet/icon-192.png",
  "/static/tablet/icon-512.png",
  "/static/tablet/icon-maskable-512.png",
  "/static/common/api.js",
  "/static/common/i18n.js",
  "/static/common/live.js",
  "/static/common/format.js",
  "/static/common/map.js",
  "/static/common/base.css",
  "/static/common/icons.svg",
  "/static/vendor/leaflet/leaflet.js",
  "/static/vendor/leaflet/leaflet.css",
  "/ui/i18n/zh-CN.json",
  "/ui/i18n/en.json",
];
const POLYGONS = "/api/v1/jurisdictions";

self.addEventListener("install", (installing) => {
  installing.waitUntil(
    (async () => {
      const shell = await caches.open(SHELL_CACHE);
      // Fetched past the HTTP cache: the copies kept are what the server serves now.
      await shell.addAll(SHELL.map((path) => new Request(path, { cache: "reload" })));
      try {
        const polygons = await fetch(POLYGONS, { credentials: "same-origin" });
        if (polygons.ok) await (await caches.open(DATA_CACHE)).put(POLYGONS, polygons);
      } catch {
        // no signal now: kept on the map's first read instead
      }
      await self.skipWaiting();
    })(),
  );
});

self.addEventListener("activate", (activating) => {
  activating.waitUntil(
    (async () => {
      for (const name of await caches.keys()) if (!KEPT.has(name)) await caches.delete(name);
      await self.clients.claim();
    })(),
  );
});

self.addEventListener("fetch", (fetching) => {
  const request = fetching.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (url.pathname === POLYGONS) {
    fetching.respondWith(networkFirst(request, DATA_CACHE, POLYGONS));
  } else if (request.mode === "navigate" && url.pathname === "/tablet/") {
    fetching.respondWith(networkFirst(request, SHELL_CACHE, "/tablet/"));
  } else if (isShell(url.pathname)) {
    fetching.respondWith(networkFirst(request, SHELL_CACHE, url.pathname));
  }
  // Everything else (the API, the socket, other pages) goes to the network untouched.
});

function isShell(path) {
  return (
    path.startsWith("/static/") ||
    path.startsWith("/ui/i18n/") ||
    path === "/tablet/manifest.webmanifest"
  );
}

/**
 * The network's answer when it comes in time (and a good one replaces the kept copy); else the
 * kept copy; else whatever the network says in the end (or the failure).
 */
async function networkFirst(request, cacheName, key) {
  const cache = await caches.open(cacheName);
  const fromNetwork = fetch(request).then(async (response) => {
    if (response.ok) await cache.put(key, response.clone());
    return response;
  });
  fromNetwork.catch(() => {}); // a late failure after the kept copy was served is no news
  let timer;
  const late = new Promise((resolve) => {
    timer = setTimeout(resolve, WAIT_FOR_NETWORK_MS, null);
  });
  try {
    const response = await Promise.race([fromNetwork, late]);
    if (response) return response;
  } catch {
    // no signal: the kept copy
  } finally {
    clearTimeout(timer);
  }
  const kept = await cache.match(key);
  if (kept) return kept;
  return fromNetwork;
}
