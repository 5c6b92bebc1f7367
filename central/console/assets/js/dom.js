// DOM helpers. Everything goes in as text nodes or properties: there is no
// code path here that parses a string as HTML, so server data (alert texts,
// ids, audit details) can never become markup.

// h(tag, attrs, ...children) builds an element. attrs: "class", "text",
// "on<event>" (function), "dataset" (object), booleans as properties,
// everything else via setAttribute. Children: nodes, strings (text nodes),
// arrays, null/undefined/false (skipped).
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  if (attrs) {
    for (const [k, v] of Object.entries(attrs)) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'class') el.className = v;
      else if (k === 'text') el.textContent = String(v);
      else if (k === 'dataset') Object.assign(el.dataset, v);
      // style only as an object: CSSOM writes are allowed by the page's CSP,
      // style attributes are not.
      else if (k === 'style') Object.assign(el.style, v);
      else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
      else if (k === 'value') el.value = v;
      else if (k === 'checked' || k === 'disabled' || k === 'selected' || k === 'hidden' || k === 'required' || k === 'multiple') el[k] = !!v;
      else if (v === true) el.setAttribute(k, '');
      else el.setAttribute(k, String(v));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else if (c instanceof Node) el.appendChild(c);
    else el.appendChild(document.createTextNode(String(c)));
  }
}

// clear removes all children of el and appends the new ones.
export function clear(el, ...children) {
  while (el.firstChild) el.removeChild(el.firstChild);
  append(el, children);
  return el;
}

// debounce returns fn delayed until ms have passed without another call.
export function debounce(fn, ms) {
  let t = null;
  const d = (...args) => {
    clearTimeout(t);
    t = setTimeout(() => { t = null; fn(...args); }, ms);
  };
  d.cancel = () => clearTimeout(t);
  return d;
}

let idSeq = 0;
// uid returns a document-unique id for label/aria wiring.
export function uid(prefix) { idSeq++; return `${prefix}-${idSeq}`; }

// fmtTime shows an RFC 3339 time in the browser's zone, or "—".
export function fmtTime(s, lang) {
  if (!s) return '—';
  const d = new Date(s);
  if (isNaN(d)) return String(s);
  return d.toLocaleString(lang === 'ja' ? 'ja-JP' : 'en-GB', { dateStyle: 'short', timeStyle: 'medium' });
}

// toLocalInput turns a Date into the value of an <input type=datetime-local>.
export function toLocalInput(d) {
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
}

// fromLocalInput turns a datetime-local value into RFC 3339 UTC, or "".
export function fromLocalInput(v) {
  if (!v) return '';
  const d = new Date(v);
  if (isNaN(d)) return '';
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

// splitIDs splits a textarea of ids on commas, spaces and new lines.
export function splitIDs(s) {
  return String(s || '').split(/[\s,、]+/).map((x) => x.trim()).filter(Boolean);
}
