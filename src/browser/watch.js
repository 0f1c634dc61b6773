// The watcher that tells when a page has settled. Shared by locate.js, which
// installs it on a document the first time it looks, and by the script the
// browser runs in every new document before the page's own (when the session
// offers WebDriver BiDi), so the page is watched from its first moment.

// How long a submitted form counts as a navigation begun, if none follows.
const SUBMIT_GRACE_MS = 2000;

// Per-document state for telling when a page has settled: a marker that a new
// document lacks, the time of the last DOM change, a navigation that has begun,
// and requests in flight. A popup's first empty document hands its window on to
// the page it opens, so the state belongs to the document, and the window's
// hooks, installed once per window, count into whichever document it shows.
function watch(win, preloaded) {
  const doc = win.document;
  const current = win.__oqsbot;
  if (current && current.doc === doc) return current;
  // Hooks in place since the window's first moment watch its later documents
  // from theirs too: their timers and requests were counted from the start.
  const watched = !!preloaded || win.__oqsbotHooks === 'preloaded';
  const s = { id: Math.random().toString(36).slice(2), doc, last: Date.now(), nav: false, pending: 0, changes: 0, fresh: true, armed: 0, acted: 0, preloaded: watched, loaded: 0 };
  if (doc.readyState === 'complete' && watched) s.loaded = Date.now();
  win.__oqsbot = s;
  new win.MutationObserver(() => { s.last = Date.now(); s.changes++; })
    .observe(doc, { subtree: true, childList: true, characterData: true, attributes: true });
  if (!win.__oqsbotHooks) hook(win, watched);
  return s;
}

function hook(win, preloaded) {
  win.__oqsbotHooks = preloaded ? 'preloaded' : 'late';
  // The state of the document the window shows now, begun if this is its first
  // event. Never an exception inside the page's own call: a state that cannot
  // be had counts into a throwaway one.
  const st = () => { try { return watch(win); } catch (e) { return { pending: 0 }; } };
  win.addEventListener('beforeunload', () => { st().nav = true; st().last = Date.now(); });
  // A form submitted now navigates a moment later, and on a loaded machine the
  // moment can outlast the quiet time: count it as a navigation begun, for a
  // while, unless the page cancelled it.
  win.addEventListener('submit', (e) => { if (!e.defaultPrevented) st().submitted = Date.now(); });
  const form = win.HTMLFormElement && win.HTMLFormElement.prototype;
  if (form && !form.__oqsbot) {
    const submit = form.submit;
    form.submit = function () { st().submitted = Date.now(); return submit.apply(this, arguments); };
    form.__oqsbot = true;
  }
  // An action reaches the page as input events, which on a busy page come long
  // after oqsbot noted the screen: what the action sets off is timed from them.
  // Only WebDriver's input is trusted here, as no person uses this browser.
  for (const type of ['mousedown', 'mouseup', 'click', 'dblclick', 'keydown', 'keyup', 'input', 'change']) {
    win.addEventListener(type, (e) => { if (e.isTrusted) { const s = st(); s.acted = s.last = Date.now(); } }, true);
  }
  win.addEventListener('pageshow', () => { st().last = Date.now(); });
  win.addEventListener('load', () => { st().loaded = Date.now(); st().last = Date.now(); });
  // Work an action defers by a short timer (a form submitted 100 ms after the
  // click) counts as in flight. Only timers set just after an action (noted or
  // received), or while a watched page loads, count, so a page's own periodic
  // timers never hold the screen unsettled for long.
  const setTimer = win.setTimeout, clearTimer = win.clearTimeout, open = new Map();
  win.setTimeout = function (fn, ms) {
    const s = st(), now = Date.now();
    const loading = s.preloaded && (win.document.readyState !== 'complete' || now - s.loaded < 300);
    const counted = typeof fn === 'function' && (Number(ms) || 0) <= 1000 && (now - Math.max(s.armed, s.acted) < 300 || loading);
    if (!counted) return setTimer.apply(win, arguments);
    s.pending++;
    const rest = Array.prototype.slice.call(arguments, 2);
    let id;
    const release = () => { if (open.delete(id)) { s.pending--; s.last = Date.now(); } };
    id = setTimer.call(win, function () { try { return fn.apply(this, rest); } finally { release(); } }, ms);
    open.set(id, s);
    return id;
  };
  // oqsbot's own in-page waits use the page's timer unwrapped: they are not the
  // page's work. Kept where the page's own replacement of setTimeout cannot reach.
  Object.defineProperty(win, '__oqsbotTimer', { value: setTimer });
  win.clearTimeout = function (id) {
    const s = open.get(id);
    if (s && open.delete(id)) { s.pending--; }
    return clearTimer.call(win, id);
  };
  if (win.fetch && !win.fetch.__oqsbot) {
    const orig = win.fetch;
    const wrapped = function () {
      const s = st();
      s.pending++;
      return orig.apply(this, arguments).finally(() => { s.pending--; s.last = Date.now(); });
    };
    wrapped.__oqsbot = true;
    win.fetch = wrapped;
  }
  if (win.XMLHttpRequest && !win.XMLHttpRequest.prototype.__oqsbot) {
    const send = win.XMLHttpRequest.prototype.send;
    win.XMLHttpRequest.prototype.send = function () {
      const s = st();
      s.pending++;
      this.addEventListener('loadend', () => { s.pending--; s.last = Date.now(); });
      return send.apply(this, arguments);
    };
    win.XMLHttpRequest.prototype.__oqsbot = true;
  }
}
