
// Appended to locate.js for an asynchronous script: looks inside the page,
// without a round trip per look, until the screen has settled and one of
// `req.conds` holds (or none are given), or `req.wait_ms` has passed. Answers
// as `observe` does. A look is cheap (each document's state) until the screen
// is quiet; only then are the conditions read.
// req: { op: 'observe', conds, before, wait_ms, quiet_ms, watched_quiet_ms }
const answer = arguments[arguments.length - 1];
const started = Date.now();
// Mirrors settled() in src/browser/mod.rs.
function quietNow(st) {
  return st.length > 0 && st.every(d => d.ready === 'complete' && !d.nav && d.pending <= 0
    && d.quiet >= (d.watched ? req.watched_quiet_ms : req.quiet_ms));
}
let waits = 0;
function later(fn, ms) {
  waits++;
  const timer = window.__oqsbotTimer || window.setTimeout;
  timer.call(window, fn, ms);
}
function look() {
  let out;
  try {
    const over = Date.now() - started >= (req.wait_ms || 0);
    if (!over && !quietNow(state(frameDocs()))) { later(look, 10); return; }
    out = run();
    const conds = req.conds || [];
    // Reading the conditions costs more than the state: less often once the page has been quiet a while.
    if (!over && (!quietNow(out.state) || (conds.length > 0 && out.match === null))) { later(look, Date.now() - started < 500 ? 25 : 100); return; }
  } catch (e) {
    answer({ error: String(e && e.message || e) });
    return;
  }
  // Whether the answer waited in the page: one that did not is not asked for again at once.
  out.waited = waits > 0;
  answer(out);
}
look();
