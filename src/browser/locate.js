// One call finds what a step needs, the way a person reads the screen:
// visible text, the label beside a field, a role; CSS and XPath last. One
// screen may be several documents (a menu frame beside a content frame): every
// same-origin frame is searched, and the frame path of a match is returned so
// the caller can act inside it. No class name or id of any portal is assumed.
// arguments[0]: { op, ... }. The caller appends `return run();`, or the
// in-page wait of settle.js.
const req = arguments[0];
// Mirrors normalize() in src/portal/text.rs: full-width ASCII (brackets, colons,
// letters, digits, symbols) folded to half-width, white space dropped. The fold's
// class is WIDTH_FOLDS there; a test there fails when the two differ.
function norm(s) {
  return (s || '')
    .replace(/[\uFF01-\uFF5E]/g, c => String.fromCharCode(c.charCodeAt(0) - 0xFEE0))
    .replace(/[\s\u3000\u00A0]+/g, '');
}
function labelNorm(s) { return norm(s).replace(/^[*＊※]+/, '').replace(/[:]$/, '').replace(/^[*＊]+/, ''); }

// Every document of the screen: this one and its same-origin frames, depth first.
// `path` holds the indices into window.frames that WebDriver's switch-to-frame takes.
function documents(frames) {
  const out = [];
  (function walk(win, path) {
    let d;
    try { d = win.document; } catch (e) { return; }
    if (!d || !d.documentElement) return;
    out.push({ doc: d, win, path });
    if (!frames) return;
    for (let i = 0; i < win.frames.length; i++) walk(win.frames[i], path.concat([i]));
  })(window, []);
  return out;
}

function visible(e) {
  if (!e || !e.isConnected) return false;
  for (let p = e; p; ) {
    const view = p.ownerDocument.defaultView;
    if (p.hidden) return false;
    const st = view.getComputedStyle(p);
    if (st.display === 'none' || st.visibility === 'hidden') return false;
    if (p.parentElement) { p = p.parentElement; continue; }
    // Inside a frame: the frame element itself must be shown.
    p = view.frameElement;
  }
  return e.getClientRects().length > 0;
}
function ownText(e) {
  if (e.tagName === 'INPUT') return e.value || '';
  return e.innerText || e.textContent || '';
}
const CLICKABLE = 'button,input[type=submit],input[type=button],input[type=reset],input[type=image],a,[role=button],[role=menuitem],[role=link],[onclick]';
const CONTROL = 'input:not([type=hidden]):not([type=submit]):not([type=button]):not([type=reset]):not([type=image]),select,textarea';

// Clickables whose whole text is `want` or, with `partial`, holds it.
function byText(doc, want, partial) {
  const w = norm(want);
  const all = Array.from(doc.querySelectorAll(CLICKABLE)).filter(visible);
  if (partial) return innermost(all.filter(e => norm(ownText(e)).includes(w)));
  return innermost(all.filter(e => norm(ownText(e)) === w || norm(e.getAttribute('aria-label')) === w || norm(e.getAttribute('alt')) === w));
}
// A clickable inside another (a <button> inside an <a onclick>): the inner one.
function innermost(list) {
  return list.filter(e => !list.some(o => o !== e && e.contains(o)));
}
function byRole(doc, role, name) {
  const sel = { button: 'button,input[type=submit],input[type=button],[role=button]', link: 'a,[role=link]', textbox: 'input[type=text],input[type=password],input:not([type]),textarea,[role=textbox]', checkbox: 'input[type=checkbox],[role=checkbox]', combobox: 'select,[role=combobox]', row: 'tr,[role=row]', dialog: 'dialog,[role=dialog],[role=alertdialog]' }[role] || `[role=${role}]`;
  return Array.from(doc.querySelectorAll(sel)).filter(visible).filter(e => !name || norm(ownText(e)).includes(norm(name)) || norm(e.getAttribute('aria-label')) === norm(name));
}
// An element's own text: its text nodes, not its children's.
function directText(e) {
  let t = '';
  for (const n of e.childNodes) if (n.nodeType === 3) t += n.nodeValue;
  return t;
}
// The text that labels something: the element's whole text, for small label elements.
function labelText(e) {
  const t = e.innerText || '';
  return t.length <= 40 ? t : '';
}
// The label elements whose text is `want`, and for each the control or value beside it.
function labelled(doc, want, wantControl) {
  const w = labelNorm(want);
  const out = [];
  const push = e => { if (e && !out.includes(e)) out.push(e); };
  const pick = box => {
    if (!box) return;
    if (wantControl) {
      if (box.matches && box.matches(CONTROL)) push(box); else if (box.querySelector) push(box.querySelector(CONTROL));
    } else push(box);
  };
  for (const l of doc.querySelectorAll('label')) {
    if (labelNorm(labelText(l)) !== w || !visible(l)) continue;
    if (l.htmlFor) push(doc.getElementById(l.htmlFor));
    push(l.querySelector(CONTROL));
    if (!wantControl) push(l.nextElementSibling);
    else pick(l.nextElementSibling);
  }
  // <th>/<td>, <dt>/<dd>, or any small element followed by the one holding the control or value.
  for (const th of doc.querySelectorAll('th,dt,td,div,span,p,li')) {
    if (th.querySelector(CONTROL)) continue;
    if (labelNorm(labelText(th)) !== w || !visible(th)) continue;
    pick(th.nextElementSibling);
  }
  if (wantControl) {
    for (const c of doc.querySelectorAll(CONTROL)) {
      if (labelNorm(c.getAttribute('aria-label')) === w || labelNorm(c.getAttribute('placeholder')) === w || labelNorm(c.getAttribute('title')) === w) push(c);
    }
    // Last: the text just before the control, as in 「ユーザID：[      ]」.
    for (const c of doc.querySelectorAll(CONTROL)) {
      if (labelNorm(precedingText(c)) === w) push(c);
    }
  }
  // A file input is often styled away behind its button; it still takes a path.
  return out.filter(e => visible(e) || (e.tagName === 'INPUT' && e.type === 'file'));
}
// The nearest text before a control among its siblings; none if another
// control stands between.
function precedingText(c) {
  for (let n = c.previousSibling; n; n = n.previousSibling) {
    let t;
    if (n.nodeType === 3) t = n.nodeValue;
    else if (n.nodeType === 1) {
      if (n.matches(CONTROL) || n.querySelector(CONTROL)) return '';
      t = n.innerText || n.textContent || '';
    } else continue;
    if (t.trim()) return t;
  }
  return '';
}
// Data rows: in a table with a header, holding no form control (a search form's
// own row lists every option of its drop-down in its text).
function rowsWith(doc, want) {
  const w = norm(want);
  return Array.from(doc.querySelectorAll('tr,[role=row]')).filter(visible)
    .filter(r => norm(r.innerText).includes(w) && !r.querySelector('th') && !r.querySelector(CONTROL));
}
// `partial`: the second pass of a text locator, once no document of the screen
// has the whole text (「登録」 in the content frame beats 「アカウント管理(登録)」 in the menu frame).
function candidates(doc, alt, partial) {
  if (alt.row !== undefined) {
    const rows = rowsWith(doc, alt.row);
    if (alt.text === undefined) return rows.map(r => r.querySelector('td') || r);
    const w = norm(alt.text);
    const out = [];
    for (const r of rows) for (const e of r.querySelectorAll(CLICKABLE)) if (visible(e) && norm(ownText(e)) === w) out.push(e);
    return out;
  }
  if (alt.text !== undefined) return partial ? (alt.exact ? [] : byText(doc, alt.text, true)) : byText(doc, alt.text, false);
  if (partial) return [];
  if (alt.label !== undefined) return labelled(doc, alt.label, true);
  if (alt.role !== undefined) return byRole(doc, alt.role, alt.name);
  if (alt.css !== undefined) return Array.from(doc.querySelectorAll(alt.css)).filter(visible);
  if (alt.xpath !== undefined) {
    const r = doc.evaluate(alt.xpath, doc, null, XPathResult.ORDERED_NODE_SNAPSHOT_TYPE, null);
    const out = [];
    for (let i = 0; i < r.snapshotLength; i++) out.push(r.snapshotItem(i));
    return out.filter(visible);
  }
  return [];
}

// The screen's text in blocks: each element's own text, and the values of
// input buttons. What appeared after an action is told by comparing blocks.
function blocks(docs) {
  const out = [];
  for (const { doc } of docs) {
    if (!doc.body) continue;
    const walker = doc.createTreeWalker(doc.body, NodeFilter.SHOW_ELEMENT);
    for (let e = walker.currentNode; e; e = walker.nextNode()) {
      if (e.tagName === 'SCRIPT' || e.tagName === 'STYLE' || e.tagName === 'OPTION' || e.tagName === 'NOSCRIPT') continue;
      let t = norm(directText(e));
      if (e.tagName === 'INPUT' && /^(button|submit|reset)$/i.test(e.type)) t = norm(e.value);
      if (t && visible(e)) out.push(t);
    }
  }
  return out;
}
// What is open in front of the page: a dialog element, an ARIA dialog, or a
// fixed box that holds a button.
function dialogs(docs) {
  const out = [];
  for (const { doc } of docs) {
    for (const e of doc.querySelectorAll('dialog,[role=dialog],[role=alertdialog],[aria-modal=true]')) if (visible(e)) out.push(e);
    for (const e of doc.querySelectorAll('body *')) {
      if (out.some(o => o.contains(e) || e.contains(o))) continue;
      const st = e.ownerDocument.defaultView.getComputedStyle(e);
      if (st.position === 'fixed' && visible(e) && e.querySelector(CLICKABLE) && norm(e.innerText)) out.push(e);
    }
  }
  return out;
}
function pageText(docs) {
  return docs.map(({ doc }) => {
    const body = doc.body ? doc.body.innerText : '';
    const values = Array.from(doc.querySelectorAll('input[type=button],input[type=submit]')).filter(visible).map(e => e.value).join(' ');
    return norm(body + ' ' + values);
  }).join(' ');
}

// How the screen stands: each document's marker, readiness and quiet time.
function state(docs) {
  const now = Date.now();
  return docs.map(({ doc, win, path }) => {
    const s = watch(win);
    const submitting = now - (s.submitted || 0) < SUBMIT_GRACE_MS;
    const st = { path, id: s.id, ready: doc.readyState, quiet: now - s.last, nav: s.nav || submitting, pending: s.pending, changes: s.changes, fresh: s.fresh, watched: s.preloaded && !s.armed };
    s.fresh = false;
    return st;
  });
}
function frameDocs() { return documents(req.frames !== false); }

function fieldShown(docs, label) {
  return docs.some(({ doc }) => labelled(doc, label, true).length > 0);
}
// The documents' titles and shown top headings: what a page calls itself.
function pageTitles(docs) {
  const titles = [];
  for (const { doc } of docs) {
    if (doc.title) titles.push(doc.title);
    for (const h of doc.querySelectorAll('h1,h2')) if (visible(h)) titles.push(h.innerText || '');
  }
  return titles.map(t => t.replace(/\s+/g, ' ').trim()).filter(t => t).slice(0, 6);
}
// The portal's login form (the manual's 「ユーザID」 and a password field), shown.
function loginForm(docs) {
  return fieldShown(docs, 'ユーザID') &&
    docs.some(({ doc }) => Array.from(doc.querySelectorAll('input[type=password]')).some(visible));
}

// Whether a condition holds on the screen now. `before` is the screen as it
// was before the last action; new text is text that was not there then.
function holds(c, docs, fresh, before) {
  if (c.text !== undefined && !pageText(docs).includes(norm(c.text))) return false;
  if (c.new_text !== undefined && !fresh.some(b => b.includes(norm(c.new_text)))) return false;
  if (c.field !== undefined && !fieldShown(docs, c.field)) return false;
  if (c.no_field !== undefined && fieldShown(docs, c.no_field)) return false;
  if (c.no_button !== undefined && docs.some(({ doc }) => byText(doc, c.no_button, false).length > 0)) return false;
  if (c.css !== undefined && !docs.some(({ doc }) => Array.from(doc.querySelectorAll(c.css)).some(visible))) return false;
  if (c.url !== undefined && !docs.some(({ win }) => String(win.location.href).includes(c.url))) return false;
  if (c.dialog !== undefined) {
    const was = (before && before.dialogs) || [];
    const shown = dialogs(docs).map(d => norm(d.innerText)).filter(t => !was.includes(t));
    if (!shown.some(t => t.includes(norm(c.dialog)))) return false;
  }
  if (c.changed && before && !changedSince(docs, before)) return false;
  if (c.reloaded && !(before && anotherDocument(docs, before))) return false;
  return true;
}
// A document of the screen is not the one noted before (a new page, or the same one loaded again).
function anotherDocument(docs, before) {
  const ids = docs.map(({ win }) => win.__oqsbot ? win.__oqsbot.id : '');
  return ids.length !== before.ids.length || ids.some((id, i) => id !== before.ids[i]);
}
function changedSince(docs, before) {
  if (anotherDocument(docs, before)) return true;
  return docs.some(({ win }) => win.__oqsbot && win.__oqsbot.changes > 0);
}
// Blocks of now that were not in `before`, counted: a second identical line is new.
function freshBlocks(now, before) {
  if (!before) return now;
  const left = new Map();
  for (const b of before.blocks) left.set(b, (left.get(b) || 0) + 1);
  const out = [];
  for (const b of now) {
    const n = left.get(b) || 0;
    if (n > 0) left.set(b, n - 1); else out.push(b);
  }
  return out;
}
// The OK that answers the notice holding `want`: inside the smallest visible box
// that holds both, preferring dialogs.
function okFor(docs, want, fresh) {
  const w = norm(want);
  const isOk = e => /^(OK|ＯＫ|はい)$/i.test(norm(ownText(e)));
  const boxes = dialogs(docs).filter(d => norm(d.innerText).includes(w));
  for (const box of boxes) {
    const ok = Array.from(box.querySelectorAll(CLICKABLE)).filter(visible).find(isOk);
    if (ok) return ok;
  }
  // A page of its own: the notice must be new, so a standing note never answers it.
  if (!fresh.some(b => b.includes(w))) return null;
  for (const { doc } of docs) {
    const oks = Array.from(doc.querySelectorAll(CLICKABLE)).filter(visible).filter(isOk);
    for (const ok of oks) {
      for (let p = ok.parentElement; p; p = p.parentElement) if (norm(p.innerText).includes(w)) return ok;
    }
  }
  return null;
}
function located(docs, make) {
  for (const d of docs) {
    const e = make(d.doc);
    if (e) return d.path.length ? { path: d.path } : { element: e };
  }
  return null;
}

// Notes the screen as it is, before an action: what changed after it is new.
function arm(docs) {
  for (const { win } of docs) {
    const s = watch(win);
    s.nav = false; s.submitted = 0; s.changes = 0; s.last = Date.now(); s.fresh = false; s.armed = Date.now();
  }
  return {
    ids: docs.map(({ win }) => win.__oqsbot.id),
    blocks: blocks(docs),
    dialogs: dialogs(docs).map(d => norm(d.innerText)),
    login: loginForm(docs),
    titles: pageTitles(docs),
  };
}

function run() {
switch (req.op) {
  case 'find': {
    const docs = frameDocs();
    for (let i = 0; i < req.alts.length; i++) {
      for (const partial of [false, true]) {
        for (const d of docs) {
          const found = candidates(d.doc, req.alts[i], partial);
          if (!found.length) continue;
          const e = found[0];
          const out = d.path.length ? { alt: i, path: d.path, partial } : { alt: i, element: e };
          if (!d.path.length && 'value' in e) out.empty = !e.value && !(e.validity && e.validity.badInput);
          // The screen noted in the same look that found the target: nothing can come between.
          if (req.arm) out.armed = arm(docs);
          return out;
        }
      }
    }
    return null;
  }
  case 'ok': {
    const docs = frameDocs();
    const fresh = freshBlocks(blocks(docs), req.before);
    for (const d of docs) {
      const e = okFor([d], req.text, fresh);
      if (e) return d.path.length ? { path: d.path } : { element: e };
    }
    return null;
  }
  case 'arm':
    return arm(frameDocs());
  case 'observe': {
    // One look: how the screen stands, and which condition holds on it.
    const docs = frameDocs();
    const st = state(docs);
    const now = blocks(docs);
    const fresh = freshBlocks(now, req.before);
    let match = null;
    for (let i = 0; i < (req.conds || []).length; i++) {
      if (holds(req.conds[i], docs, fresh, req.before)) { match = i; break; }
    }
    return { state: st, match, fresh: fresh.slice(0, 20) };
  }
  case 'has_text':
    return pageText(frameDocs()).includes(norm(req.text));
  case 'read': {
    for (const { doc } of frameDocs()) {
      const cells = labelled(doc, req.label, false).concat(labelled(doc, req.label, true));
      for (const c of cells) {
        const v = (c.tagName === 'INPUT' || c.tagName === 'SELECT' || c.tagName === 'TEXTAREA') ? c.value : (c.innerText || '');
        if (v.trim()) return v.trim();
      }
    }
    // 「機関コード：1234567890」 in one piece of text.
    const w = req.label.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    for (const { doc } of frameDocs()) {
      const body = doc.body ? doc.body.innerText : '';
      const m = body.match(new RegExp(w + '[ \\t\\u3000]*[:：][ \\t\\u3000]*([^\\s\\u3000]+)'));
      if (m) return m[1];
    }
    return null;
  }
  case 'body':
    return frameDocs().map(({ doc }) => doc.body ? doc.body.innerText : '').join('\n');
  case 'sources':
    return frameDocs().map(({ doc }) => doc.documentElement.outerHTML);
  case 'capture': {
    // For the recording, in one round trip: the markup, and what a screenshot
    // would show (typed values too, which the markup does not carry).
    const docs = frameDocs();
    const shown = [];
    for (const { doc } of docs) {
      if (doc.body) shown.push(doc.body.innerText);
      for (const f of doc.querySelectorAll('input, textarea, select')) {
        if (f.type !== 'password' && f.type !== 'hidden' && f.value) shown.push(f.value);
      }
    }
    return {
      sources: docs.map(({ doc }) => doc.documentElement.outerHTML),
      shown: shown.join('\n'),
      url: location.href,
      width: window.innerWidth,
      height: window.innerHeight,
    };
  }
  case 'diagnose': {
    // What a screen no flow step expected is: each document's HTTP status, and
    // the page's own title and top headings (never its notes or running text).
    const docs = frameDocs();
    let status = 0;
    for (const { win } of docs) {
      try {
        const nav = win.performance.getEntriesByType('navigation')[0];
        if (nav && nav.responseStatus > status) status = nav.responseStatus;
      } catch (e) { /* a document without timing entries */ }
    }
    return { status, titles: pageTitles(docs), login: loginForm(docs) };
  }
  case 'summary': {
    const body = frameDocs().map(({ doc }) => doc.body ? doc.body.innerText : '').join(' ');
    return body.replace(/\s+/g, ' ').trim().slice(0, 400);
  }
}
return null;
}
