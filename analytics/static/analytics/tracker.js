/* farm's tracker: a small Matomo-compatible JavaScript tracker, served as /matomo.js and /piwik.js.
 *
 * It reads the standard `_paq` command queue, so Matomo's usual snippet works unchanged, and sends
 * the Tracking HTTP API parameters with navigator.sendBeacon (a form POST), falling back to an image.
 * Commands: setTrackerUrl, setSiteId, trackPageView, trackEvent, trackSiteSearch, trackGoal,
 * enableLinkTracking, enableHeartBeatTimer, setUserId, setCustomDimension, disableCookies,
 * deleteCookies, and Matomo's consent commands (requireConsent, setConsentGiven, rememberConsentGiven,
 * forgetConsentGiven, requireCookieConsent, setCookieConsentGiven, rememberCookieConsentGiven,
 * forgetCookieConsentGiven) with its cookie names; HTML5 <video> and <audio> elements are tracked
 * automatically (ma_* parameters).
 *
 * What it keeps on the device (the visitor id, first visit time, visit count, last hit) lives in
 * localStorage and is read or written only when cookies are allowed: never on a cookieless site
 * (the site's own /matomo.js says so in window.__farmCookieless), never after disableCookies, and
 * not before consent when it is required. Then nothing is sent from the device and the farm
 * recognises the visitor by their browser's configuration alone.
 */
(function () {
  "use strict";
  if (window.__farmTracker) { return; }
  var state = { url: null, site: null, userId: null, dims: {}, consentNeeded: false, consented: false,
                cookiesOff: false, waiting: [], pvId: null, heartbeat: 0, lastHit: 0, started: Date.now() };
  var CONSENT = "mtm_consent", COOKIE_CONSENT = "mtm_cookie_consent", CONSENT_REMOVED = "mtm_consent_removed";
  var KEYS = ["_farm_id", "_farm_idts", "_farm_idvc", "_farm_last"];
  var THIRTY_YEARS = 30 * 365 * 24;
  var DOWNLOADS = /\.(7z|aac|apk|csv|docx?|epub|exe|gz|json|mp3|mp4|odt|ods|pdf|pptx?|rar|tar|txt|xlsx?|xml|zip)$/i;

  function hex(n) { var s = ""; while (s.length < n) { s += Math.floor(Math.random() * 16).toString(16); } return s; }
  function store(key, value) { try { if (value === undefined) { return localStorage.getItem(key); }
    localStorage.setItem(key, value); } catch (e) { return null; } return value; }
  function cookie(name) {
    var found = document.cookie.split("; ").filter(function (c) { return c.indexOf(name + "=") === 0; })[0];
    return found ? decodeURIComponent(found.slice(name.length + 1)) : null;
  }
  function setCookie(name, value, hours) {
    document.cookie = name + "=" + encodeURIComponent(value) + "; path=/; SameSite=Lax; expires=" +
      new Date(Date.now() + (hours || THIRTY_YEARS) * 3600 * 1000).toUTCString();
  }
  function deleteCookie(name) { document.cookie = name + "=; path=/; SameSite=Lax; expires=Thu, 01 Jan 1970 00:00:00 GMT"; }
  function forgetDevice() { try { KEYS.forEach(function (key) { localStorage.removeItem(key); }); } catch (e) { /* none kept */ } }
  function cookieless() { return (window.__farmCookieless || []).indexOf(String(state.site)) >= 0; }
  function mayStore() { return !state.cookiesOff && !cookieless(); }
  /* The visitor's ids are read or written only when a hit is sent and the device may keep them. */
  function ids() {
    if (!mayStore()) { return {}; }
    var now = Date.now(), last = parseInt(store("_farm_last") || "0", 10);
    var visitor = store("_farm_id") || store("_farm_id", hex(16));
    var first = store("_farm_idts") || store("_farm_idts", String(Math.floor(now / 1000)));
    var count = parseInt(store("_farm_idvc") || "0", 10);
    if (now - last > 30 * 60 * 1000) { count += 1; store("_farm_idvc", String(count)); }  // a new visit
    store("_farm_last", String(now));
    return { _id: visitor, _idts: first, _idvc: count, _viewts: last ? Math.floor(last / 1000) : null };
  }

  function send(params) {
    if (!state.url || !state.site) { return; }
    if (state.consentNeeded && !state.consented) {  // kept in the page only, and not without end (pings)
      if (state.waiting.length < 100) { state.waiting.push(params); }
      return;
    }
    var now = new Date(), who = ids();
    var all = { idsite: state.site, rec: 1, r: hex(6), _id: who._id, _idts: who._idts, _idvc: who._idvc,
                _viewts: who._viewts, h: now.getHours(), m: now.getMinutes(), s: now.getSeconds(), url: location.href,
                urlref: document.referrer, res: screen.width + "x" + screen.height, pv_id: state.pvId,
                send_image: 0, cookie: navigator.cookieEnabled && mayStore() ? 1 : 0 };
    if (state.userId) { all.uid = state.userId; }
    for (var d in state.dims) { all["dimension" + d] = state.dims[d]; }
    for (var k in params) { all[k] = params[k]; }
    var body = new URLSearchParams();
    for (var name in all) { if (all[name] !== null && all[name] !== undefined && all[name] !== "") { body.append(name, all[name]); } }
    state.lastHit = Date.now();
    if (!(navigator.sendBeacon && navigator.sendBeacon(state.url, body))) {
      new Image().src = state.url + "?" + body.toString();
    }
  }

  var commands = {
    setTrackerUrl: function (u) { state.url = u; },
    setSiteId: function (id) { state.site = id; },
    setUserId: function (id) { state.userId = id; },
    setCustomDimension: function (id, value) { state.dims[id] = value; },
    disableCookies: function () { state.cookiesOff = true; forgetDevice(); },
    deleteCookies: forgetDevice,
    /* Matomo's consent: with requireConsent nothing is sent (hits wait in the page) until consent is
       given, or remembered in the mtm_consent cookie; requireCookieConsent sends hits but keeps
       nothing on the device until cookie consent (mtm_cookie_consent). */
    requireConsent: function () {
      state.consentNeeded = true; state.consented = !!cookie(CONSENT) && !cookie(CONSENT_REMOVED);  // as Matomo
      if (!state.consented) { state.cookiesOff = true; }
    },
    setConsentGiven: function (cookiesToo) {  // cookies first: the hits that waited carry the visitor's ids
      state.consented = true; deleteCookie(CONSENT_REMOVED);
      if (cookiesToo === undefined || cookiesToo) { commands.setCookieConsentGiven(); }
      var w = state.waiting; state.waiting = [];
      for (var i = 0; i < w.length; i++) { send(w[i]); }
    },
    rememberConsentGiven: function (hours) { commands.setConsentGiven(true); setCookie(CONSENT, Date.now(), hours); },
    forgetConsentGiven: function (hours) {
      deleteCookie(CONSENT); setCookie(CONSENT_REMOVED, Date.now(), hours);
      commands.forgetCookieConsentGiven(); commands.requireConsent();
    },
    requireCookieConsent: function () { if (!cookie(COOKIE_CONSENT)) { state.cookiesOff = true; } },
    setCookieConsentGiven: function () { state.cookiesOff = false; },
    rememberCookieConsentGiven: function (hours) { commands.setCookieConsentGiven(); setCookie(COOKIE_CONSENT, Date.now(), hours); },
    forgetCookieConsentGiven: function () { deleteCookie(COOKIE_CONSENT); commands.disableCookies(); },
    trackPageView: function (title) { state.pvId = hex(6); send({ action_name: title || document.title }); },
    trackEvent: function (c, a, n, v) { send({ e_c: c, e_a: a, e_n: n, e_v: v }); },
    trackSiteSearch: function (k, cat, count) { send({ search: k, search_cat: cat, search_count: count }); },
    trackGoal: function (id, revenue) { send({ idgoal: id, revenue: revenue }); },
    enableHeartBeatTimer: function (seconds) { state.heartbeat = (seconds || 15) * 1000;
      setInterval(function () { if (document.visibilityState === "visible" && Date.now() - state.lastHit >= state.heartbeat) {
        send({ ping: 1 }); } }, state.heartbeat); },
    enableLinkTracking: function () {
      document.addEventListener("click", function (event) {
        var a = event.target.closest ? event.target.closest("a[href]") : null;
        if (!a) { return; }
        if (DOWNLOADS.test(a.pathname) || a.hasAttribute("download")) { send({ download: a.href }); }
        else if (a.hostname && a.hostname !== location.hostname) { send({ link: a.href }); }
      }, true);
    }
  };

  function run(command) {
    if (typeof command === "function") { command(); return; }
    if (!command || !command.length) { return; }
    var fn = commands[command[0]];
    if (fn) { fn.apply(null, command.slice(1)); }
  }

  /* Media: one play session per element and page view; watched time and progress only grow. An
     impression (ma_st=0) once the element is visible with a source; then pings every 5 s while
     playing and on pause, seek, end and fullscreen change; ma_se lists the positions played, on a
     5 s grid (the farm keeps the union of every ping's). */
  function trackMedia(el) {
    if (el.__farmMedia) { return; }
    var m = el.__farmMedia = { id: hex(8), watched: 0, last: null, loadedAt: Date.now(), ttp: null, played: {},
                               visible: false, impressed: false, fullscreen: false };
    function positions() {
      return Object.keys(m.played).map(Number).sort(function (a, b) { return a - b; }).join(",");
    }
    function mark() { m.played[Math.floor(el.currentTime / 5) * 5] = 1; }
    function report() {
      m.reported = Date.now();
      send({ ma_id: m.id, ma_mt: el.tagName === "VIDEO" ? "video" : "audio", ma_re: el.currentSrc || el.src,
             ma_ti: el.title || el.getAttribute("data-title") || "", ma_pn: "html5", ma_st: Math.round(m.watched),
             ma_le: isFinite(el.duration) ? Math.round(el.duration) : 0, ma_ps: Math.round(el.currentTime),
             ma_ttp: m.ttp, ma_w: el.videoWidth || null, ma_h: el.videoHeight || null,
             ma_fs: m.fullscreen ? 1 : 0, ma_se: positions() });
    }
    function impress() {
      if (!m.impressed && m.visible && (el.currentSrc || el.src)) { m.impressed = true; report(); }
    }
    if (window.IntersectionObserver) {
      new IntersectionObserver(function (entries) {
        if (entries[0].isIntersecting) { m.visible = true; impress(); }
      }).observe(el);
    } else { m.visible = true; }
    el.addEventListener("loadedmetadata", impress);
    el.addEventListener("play", function () { if (m.ttp === null) { m.ttp = Math.round((Date.now() - m.loadedAt) / 1000); }
      m.impressed = true; m.last = el.currentTime; mark(); report(); });
    el.addEventListener("timeupdate", function () {
      if (m.last !== null && el.currentTime > m.last && el.currentTime - m.last < 2) { m.watched += el.currentTime - m.last; mark(); }
      m.last = el.currentTime;
      if (!el.paused && Date.now() - (m.reported || 0) > 5000) { report(); }
    });
    el.addEventListener("pause", report);
    el.addEventListener("seeked", function () { m.last = el.currentTime; report(); });
    el.addEventListener("ended", function () { mark(); report(); });
    document.addEventListener("fullscreenchange", function () {
      if (document.fullscreenElement === el) { m.fullscreen = true; report(); }
    });
  }
  function scanMedia() { var els = document.querySelectorAll("video, audio"); for (var i = 0; i < els.length; i++) { trackMedia(els[i]); } }

  /* As Matomo's tracker does, configuration queued before the script loaded applies first, so the
     usual snippet (trackPageView pushed before setTrackerUrl/setSiteId) works. */
  var FIRST = ["setTrackerUrl", "setSiteId", "setUserId", "setCustomDimension", "disableCookies",
               "requireConsent", "requireCookieConsent", "setConsentGiven", "rememberConsentGiven",
               "setCookieConsentGiven", "rememberCookieConsentGiven", "enableLinkTracking"];
  var queued = window._paq || [];
  window._paq = { push: function () { for (var i = 0; i < arguments.length; i++) { run(arguments[i]); } return 0; } };
  for (var f = 0; f < FIRST.length; f++) {
    for (var i = 0; i < queued.length; i++) { if (queued[i] && queued[i][0] === FIRST[f]) { run(queued[i]); } }
  }
  for (var j = 0; j < queued.length; j++) {
    if (typeof queued[j] === "function" || !queued[j] || FIRST.indexOf(queued[j][0]) < 0) { run(queued[j]); }
  }
  window.__farmTracker = true;
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", scanMedia); } else { scanMedia(); }
  new MutationObserver(scanMedia).observe(document.documentElement, { childList: true, subtree: true });
})();
