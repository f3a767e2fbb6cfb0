/*
 * Sigmic widget loader (widget.js). Embed with two tags:
 *   <script>window.sigmicSettings = {token: "…", apiUrl: "https://…"}</script>
 *   <script src="https://…/widget.js" async></script>
 * It draws the launcher in a Shadow DOM and loads the widget itself (WASM, CSS) only when
 * the visitor first opens it, or once the page is idle. `window.Sigmic` is the page's API:
 * open(), close(), send(text), on(event, fn), destroy(); calls made before the widget has
 * loaded wait for it (open and send start loading).
 */
(function () {
  "use strict";
  if (window.Sigmic && window.Sigmic.__sigmic) return;

  var script = document.currentScript;
  var settings = window.sigmicSettings || {};
  var base = "";
  try {
    base = new URL(".", script && script.src ? script.src : location.href).href;
    if (!(script && script.src)) base = "";
  } catch (e) {}
  base = (base || settings.apiUrl || "").replace(/\/+$/, "");

  var HOST_STYLE =
    "all:initial!important;display:block!important;position:fixed!important;" +
    "z-index:2147483000!important;bottom:0!important;right:0!important;width:0!important;" +
    "height:0!important;margin:0!important;padding:0!important;border:0!important;" +
    "overflow:visible!important;visibility:visible!important;opacity:1!important;" +
    "transform:none!important;pointer-events:auto!important;contain:none!important";
  var CHAT = "M21 12a8 8 0 0 1-11.6 7.1L4 20l1-4.6A8 8 0 1 1 21 12z";
  var CLOSE = "M6 6l12 12M18 6L6 18";
  var HEX = /^#([0-9a-f]{3}|[0-9a-f]{6})$/i;

  var host = document.createElement("sigmic-widget");
  host.setAttribute("style", HOST_STYLE);
  host.setAttribute("data-state", "idle");
  host.setAttribute("data-open", "false");
  var shadow = host.attachShadow({ mode: "open" });
  var css = document.createElement("style");
  css.textContent =
    ":host{all:initial}" +
    ".l{all:initial;box-sizing:border-box;position:fixed;bottom:20px;right:20px;width:56px;" +
    "height:56px;border-radius:50%;background:var(--a,#4f46e5);color:var(--o,#fff);" +
    "display:flex;align-items:center;justify-content:center;cursor:pointer;" +
    "box-shadow:0 4px 16px rgba(0,0,0,.25);transition:transform .15s}" +
    ".l:hover{transform:scale(1.05)}.l:focus-visible{outline:3px solid var(--a,#4f46e5);outline-offset:3px}" +
    ".l.left{right:auto;left:20px}.l svg{width:26px;height:26px;pointer-events:none}" +
    ".l[aria-busy=true]{opacity:.75;cursor:progress}" +
    ".e{all:initial;position:fixed;bottom:84px;right:20px;max-width:260px;padding:8px 12px;" +
    "border-radius:8px;background:#7f1d1d;color:#fff;font:13px/1.4 system-ui,sans-serif}" +
    ".e.left{right:auto;left:20px}" +
    "@media (prefers-reduced-motion:reduce){.l{transition:none}}";
  var button = document.createElement("button");
  button.className = "l";
  button.type = "button";
  button.setAttribute("data-sigmic-launcher", "");
  button.setAttribute("aria-label", "Open chat");
  button.setAttribute("aria-haspopup", "dialog");
  button.setAttribute("aria-expanded", "false");
  button.setAttribute("aria-controls", "sigmic-panel");
  var root = document.createElement("div");
  root.setAttribute("data-sigmic-root", "");
  shadow.appendChild(css);
  shadow.appendChild(button);
  shadow.appendChild(root);

  function icon(d) {
    button.innerHTML =
      '<svg viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="2" ' +
      'stroke-linecap="round" stroke-linejoin="round" aria-hidden="true"><path d="' + d + '"/></svg>';
  }
  function look(accent, onAccent, position) {
    if (accent && HEX.test(accent)) host.style.setProperty("--a", accent);
    if (onAccent && HEX.test(onAccent)) host.style.setProperty("--o", onAccent);
    if (position) button.classList.toggle("left", position === "bottom-left");
  }
  icon(CHAT);
  look(settings.accentColor, null, settings.position);

  var listeners = {};
  var mod = null;
  var loading = null;
  var destroyed = false;
  var isOpen = false;
  var settled = false;
  var timings = {};
  var notice = null;

  function fire(name, detail) {
    (listeners[name] || []).slice().forEach(function (fn) {
      try {
        fn(detail);
      } catch (e) {
        setTimeout(function () { throw e; });
      }
    });
  }
  function interactive() {
    if (timings.clickedAt != null && timings.readyAt == null && isOpen && settled) {
      timings.readyAt = performance.now();
    }
  }
  // What the widget tells: the page's events, and the loader's own (ready, look).
  function emit(name, detail) {
    if (name === "ready") {
      settled = true;
      host.setAttribute("data-state", "ready");
      interactive();
      return;
    }
    if (name === "look") {
      look(detail.accentColor, detail.onAccent, detail.position);
      return;
    }
    if (name === "open" || name === "close") {
      isOpen = name === "open";
      host.setAttribute("data-open", String(isOpen));
      button.setAttribute("aria-expanded", String(isOpen));
      icon(isOpen ? CLOSE : CHAT);
      interactive();
    }
    fire(name, detail);
  }
  function fail(err) {
    host.setAttribute("data-state", "error");
    button.removeAttribute("aria-busy");
    if (!notice) {
      notice = document.createElement("p");
      notice.className = "e" + (button.classList.contains("left") ? " left" : "");
      notice.setAttribute("role", "alert");
      shadow.appendChild(notice);
    }
    notice.textContent = "The assistant could not be loaded. Please try again later.";
    fire("error", { code: "LOAD_FAILED", message: String((err && err.message) || err) });
  }

  function load() {
    if (destroyed) return Promise.reject(new Error("Sigmic: destroyed"));
    if (loading) return loading;
    host.setAttribute("data-state", "loading");
    button.setAttribute("aria-busy", "true");
    var styled = new Promise(function (done) {
      var link = document.createElement("link");
      link.rel = "stylesheet";
      link.href = base + "/widget/widget.css";
      link.onload = link.onerror = done;
      shadow.insertBefore(link, css);
    });
    var code = import(base + "/widget/sigmic_widget.js").then(function (m) {
      return m.default({ module_or_path: base + "/widget/sigmic_widget_bg.wasm" }).then(function () {
        return m;
      });
    });
    loading = Promise.all([code, styled]).then(
      function (r) {
        if (destroyed) throw new Error("Sigmic: destroyed");
        var m = r[0];
        m.mount(root, window.sigmicSettings || settings, emit);
        mod = m;
        button.removeAttribute("aria-busy");
        if (notice) {
          notice.remove();
          notice = null;
        }
        return m;
      },
      function (err) {
        loading = null;
        fail(err);
        throw err;
      }
    );
    return loading;
  }
  function quietly(p) {
    p.catch(function () {});
  }

  button.addEventListener("click", function () {
    if (timings.clickedAt == null) timings.clickedAt = performance.now();
    if (isOpen && mod) mod.close();
    else quietly(load().then(function (m) { m.open(); }));
  });

  function onKey(e) {
    // The page's own shortcuts do not see keys typed in the widget.
    if (e.composedPath && e.composedPath()[0] !== host) e.stopPropagation();
  }
  host.addEventListener("keydown", onKey);

  window.Sigmic = {
    __sigmic: true,
    timings: timings,
    open: function () {
      if (timings.clickedAt == null) timings.clickedAt = performance.now();
      quietly(load().then(function (m) { m.open(); }));
    },
    close: function () {
      if (mod) mod.close();
    },
    send: function (text) {
      quietly(load().then(function (m) { m.send(String(text)); }));
    },
    on: function (name, fn) {
      if (typeof fn !== "function") return function () {};
      (listeners[name] = listeners[name] || []).push(fn);
      return function () {
        listeners[name] = (listeners[name] || []).filter(function (f) { return f !== fn; });
      };
    },
    destroy: function () {
      destroyed = true;
      if (mod) mod.destroy();
      mod = null;
      listeners = {};
      host.remove();
      if (window.Sigmic && window.Sigmic.__sigmic) delete window.Sigmic;
    },
  };

  function attach() {
    (document.body || document.documentElement).appendChild(host);
  }
  if (document.body) attach();
  else document.addEventListener("DOMContentLoaded", attach);

  // Loaded once the page is idle (unless the page said `preload: false`), so the first click
  // finds the widget ready.
  function idle() {
    if (settings.preload === false || destroyed || loading) return;
    if (window.requestIdleCallback) requestIdleCallback(function () { quietly(load()); }, { timeout: 4000 });
    else setTimeout(function () { quietly(load()); }, 1500);
  }
  if (document.readyState === "complete") idle();
  else window.addEventListener("load", idle);
})();
