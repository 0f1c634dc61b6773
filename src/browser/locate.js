// One call finds what a step needs, the way a person reads the page:
// visible text, the label beside a field, a role; CSS and XPath last.
// arguments[0]: { op, alts, text, label }
const req = arguments[0];
function norm(s) {
  return (s || '')
    .replace(/（/g, '(').replace(/）/g, ')').replace(/：/g, ':')
    .replace(/[\uFF10-\uFF19\uFF21-\uFF3A\uFF41-\uFF5A]/g, c => String.fromCharCode(c.charCodeAt(0) - 0xFEE0))
    .replace(/[\s\u3000]+/g, '');
}
function labelNorm(s) { return norm(s).replace(/^[*＊]+/, '').replace(/:$/, ''); }
function visible(e) {
  if (!e || !e.isConnected) return false;
  for (let p = e; p; p = p.parentElement) {
    if (p.hidden) return false;
    const st = getComputedStyle(p);
    if (st.display === 'none' || st.visibility === 'hidden') return false;
  }
  return e.getClientRects().length > 0;
}
function ownText(e) {
  if (e.tagName === 'INPUT') return e.value || '';
  return e.innerText || e.textContent || '';
}
const CLICKABLE = 'button,input[type=submit],input[type=button],input[type=reset],a,[role=button],[role=menuitem],[role=link],[onclick]';
function byText(want) {
  const w = norm(want);
  const all = Array.from(document.querySelectorAll(CLICKABLE)).filter(visible);
  const exact = all.filter(e => norm(ownText(e)) === w || norm(e.getAttribute('aria-label')) === w);
  if (exact.length) return exact;
  return all.filter(e => norm(ownText(e)).includes(w));
}
function byRole(role, name) {
  const sel = { button: 'button,input[type=submit],input[type=button],[role=button]', link: 'a,[role=link]', textbox: 'input[type=text],input[type=password],input:not([type]),textarea,[role=textbox]', checkbox: 'input[type=checkbox],[role=checkbox]', combobox: 'select,[role=combobox]', row: 'tr,[role=row]', dialog: '[role=dialog]' }[role] || `[role=${role}]`;
  return Array.from(document.querySelectorAll(sel)).filter(visible).filter(e => !name || norm(ownText(e)).includes(norm(name)) || norm(e.getAttribute('aria-label')) === norm(name));
}
// The label elements whose text is `want`, and for each the control or value beside it.
function labelled(want, wantControl) {
  const w = labelNorm(want);
  const out = [];
  const push = e => { if (e && !out.includes(e)) out.push(e); };
  for (const l of document.querySelectorAll('label')) {
    if (labelNorm(l.innerText) !== w || !visible(l)) continue;
    if (l.htmlFor) push(document.getElementById(l.htmlFor));
    push(l.querySelector('input,select,textarea'));
    if (!wantControl) push(l.nextElementSibling);
  }
  for (const th of document.querySelectorAll('th,dt,.label,td')) {
    if (labelNorm(th.innerText) !== w || !visible(th)) continue;
    const next = th.nextElementSibling;
    if (!next) continue;
    if (wantControl) push(next.querySelector('input,select,textarea')); else push(next);
  }
  if (wantControl) {
    for (const c of document.querySelectorAll('input,select,textarea')) {
      if (labelNorm(c.getAttribute('aria-label')) === w || labelNorm(c.getAttribute('placeholder')) === w) push(c);
    }
  }
  // A file input is often styled away behind its button; it still takes a path.
  return out.filter(e => visible(e) || (e.tagName === 'INPUT' && e.type === 'file'));
}
function rowsWith(want) {
  const w = norm(want);
  return Array.from(document.querySelectorAll('tr,[role=row]')).filter(visible).filter(r => norm(r.innerText).includes(w) && !r.querySelector('th'));
}
function candidates(alt) {
  if (alt.row !== undefined) {
    const rows = rowsWith(alt.row);
    if (alt.text === undefined) return rows.map(r => r.querySelector('td') || r);
    const w = norm(alt.text);
    const out = [];
    for (const r of rows) for (const e of r.querySelectorAll(CLICKABLE)) if (visible(e) && norm(ownText(e)) === w) out.push(e);
    return out;
  }
  if (alt.text !== undefined) return byText(alt.text);
  if (alt.label !== undefined) return labelled(alt.label, true);
  if (alt.role !== undefined) return byRole(alt.role, alt.name);
  if (alt.css !== undefined) return Array.from(document.querySelectorAll(alt.css)).filter(visible);
  if (alt.xpath !== undefined) {
    const r = document.evaluate(alt.xpath, document, null, XPathResult.ORDERED_NODE_SNAPSHOT_TYPE, null);
    const out = [];
    for (let i = 0; i < r.snapshotLength; i++) out.push(r.snapshotItem(i));
    return out.filter(visible);
  }
  return [];
}
// The visible text, with the values of visible input buttons (their text is an attribute).
function pageText() {
  const body = document.body ? document.body.innerText : '';
  const values = Array.from(document.querySelectorAll('input[type=button],input[type=submit]')).filter(visible).map(e => e.value).join(' ');
  return norm(body + ' ' + values);
}
switch (req.op) {
  case 'find': {
    for (let i = 0; i < req.alts.length; i++) {
      const found = candidates(req.alts[i]);
      if (found.length) return [i, found[0]];
    }
    return null;
  }
  case 'has_text':
    return pageText().includes(norm(req.text));
  case 'read': {
    const cells = labelled(req.label, false).concat(labelled(req.label, true));
    for (const c of cells) {
      const v = (c.tagName === 'INPUT' || c.tagName === 'SELECT' || c.tagName === 'TEXTAREA') ? c.value : (c.innerText || '');
      if (v.trim()) return v.trim();
    }
    // "機関コード：1234567890" in one piece of text.
    const body = document.body ? document.body.innerText : '';
    const w = req.label.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    const m = body.match(new RegExp(w + '\\s*[:：]\\s*(\\S+)'));
    return m ? m[1] : null;
  }
  case 'body':
    return document.body ? document.body.innerText : '';
  case 'summary': {
    const body = document.body ? document.body.innerText : '';
    return body.replace(/\s+/g, ' ').trim().slice(0, 400);
  }
}
return null;
