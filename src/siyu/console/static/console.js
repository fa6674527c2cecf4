// siyu console: the little JavaScript the pages need. fetch() calls carry the session's CSRF
// token; everything else is plain HTML forms.
(function () {
  "use strict";
  const token = document.querySelector('meta[name="csrf-token"]')?.content || "";
  window.siyu = {
    csrf: token,
    // JSON to/from the console's own endpoints (same origin, session cookie + CSRF header).
    async post(url, body) {
      const resp = await fetch(url, {
        method: "POST",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": token },
        body: JSON.stringify(body),
        credentials: "same-origin",
      });
      const data = await resp.json().catch(() => ({}));
      if (!resp.ok) throw Object.assign(new Error(data.detail || resp.statusText), { data, status: resp.status });
      return data;
    },
    async get(url) {
      const resp = await fetch(url, { credentials: "same-origin" });
      const data = await resp.json().catch(() => ({}));
      if (!resp.ok) throw Object.assign(new Error(data.detail || resp.statusText), { data, status: resp.status });
      return data;
    },
    debounce(fn, ms) {
      let t;
      return (...args) => { clearTimeout(t); t = setTimeout(() => fn(...args), ms); };
    },
  };
})();
