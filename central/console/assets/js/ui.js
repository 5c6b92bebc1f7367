// Shared view pieces: labelled fields with their error line, message boxes,
// pagers, role checks.
import { h, clear, uid } from './dom.js';
import { t, errText } from './i18n.js';

export const can = {
  compose: (r) => r === 'publisher' || r === 'admin',
  approve: (r) => r === 'approver' || r === 'admin',
  cancel: (r) => r === 'publisher' || r === 'approver' || r === 'admin',
  command: (r) => r === 'fieldtech' || r === 'admin',
  audit: (r) => r === 'approver' || r === 'admin',
  users: (r) => r === 'admin',
};

// Fields keeps the inputs of a form by their API field path ("texts[0].body")
// so an error with a field lands next to the right input.
export class Fields {
  constructor(formError) {
    this.map = new Map();
    this.formError = formError; // a Message for errors without a known field
  }

  // field builds label + control + error line and registers it under path.
  field(path, label, control, help) {
    const id = control.id || uid('f');
    control.id = id;
    const err = h('p', { class: 'field-error', id: id + '-err', role: 'alert', dataset: { errorFor: path } });
    const desc = [err.id];
    let helpEl = null;
    if (help) {
      helpEl = h('p', { class: 'help', id: id + '-help' }, help);
      desc.push(helpEl.id);
    }
    control.setAttribute('aria-describedby', desc.join(' '));
    control.dataset.field = path;
    this.map.set(path, { control, err });
    return h('div', { class: 'field' }, h('label', { for: id }, label), control, helpEl, err);
  }

  // register adds an error line for a group (e.g. radio buttons in a fieldset).
  register(path, control, err) { this.map.set(path, { control, err }); }

  clear() {
    for (const { control, err } of this.map.values()) {
      clear(err);
      control.removeAttribute('aria-invalid');
    }
    if (this.formError) this.formError.clear();
  }

  // clearOne clears one field's message (the user edited it).
  clearOne(path) {
    const f = this.map.get(path);
    if (f) { clear(f.err); f.control.removeAttribute('aria-invalid'); }
  }

  // lookup finds the registered field for a path, dropping trailing
  // "[n]" and ".x" parts until one matches ("target.prefs[2]" -> "target").
  lookup(path) {
    let p = String(path || '').replace(/^(params|alert|input)\./, '');
    while (p) {
      if (this.map.has(p)) return this.map.get(p);
      const cut = Math.max(p.lastIndexOf('['), p.lastIndexOf('.'));
      if (cut <= 0) break;
      p = p.slice(0, cut);
    }
    return null;
  }

  // show puts text next to path's field (or in the form message) and
  // returns whether it found the field.
  showText(path, text) {
    const f = this.lookup(path);
    if (!f) {
      if (this.formError) this.formError.error(text);
      return false;
    }
    f.err.textContent = text;
    f.control.setAttribute('aria-invalid', 'true');
    return true;
  }

  // showError shows an ApiError next to its field; errors without a field
  // go to the form message. focus moves the cursor to the field (not while
  // the user is typing somewhere else: live previews pass false).
  showError(e, focus = true) {
    const text = errText(e);
    if (e.field && this.showText(e.field, text)) {
      const f = this.lookup(e.field);
      if (f && focus) f.control.focus({ preventScroll: false });
      return;
    }
    if (this.formError) this.formError.error(text);
  }
}

// Message is a live region for a view's status and error lines.
export class Message {
  constructor() {
    this.el = h('div', { class: 'msg', 'aria-live': 'polite' });
  }
  clear() { clear(this.el); this.el.className = 'msg'; this.el.removeAttribute('role'); }
  // clearError drops an error that a later change made stale, keeping
  // success and info lines.
  clearError() { if (this.el.classList.contains('msg-error')) this.clear(); }
  error(text) { this.set('msg msg-error', text); this.el.setAttribute('role', 'alert'); }
  ok(text) { this.set('msg msg-ok', text); this.el.removeAttribute('role'); }
  info(text) { this.set('msg msg-info', text); this.el.removeAttribute('role'); }
  set(cls, text) { this.el.className = cls; clear(this.el, h('p', null, text)); }
  apiError(e) { this.error(errText(e)); }
}

// pager renders "prev 1–50 of N next" for offset paging.
export function pager(offset, limit, total, go) {
  const from = total === 0 ? 0 : offset + 1;
  const to = Math.min(offset + limit, total);
  return h('nav', { class: 'pager', 'aria-label': 'pagination' },
    h('button', { type: 'button', disabled: offset <= 0, onclick: () => go(Math.max(0, offset - limit)) }, t('common.prev')),
    h('span', { class: 'pager-info', 'aria-live': 'polite' }, t('common.page', { from, to, total })),
    h('button', { type: 'button', disabled: to >= total, onclick: () => go(offset + limit) }, t('common.next')));
}

export function stateBadge(state) {
  return h('span', { class: 'badge badge-' + String(state || '').replace(/[^a-z_]/g, ''), dataset: { state: state || '' } }, t('state.' + state));
}

export function targetText(tg) {
  if (!tg) return '—';
  if (tg.all) return t('target.all');
  if (tg.prefs && tg.prefs.length) return t('target.prefs', { list: tg.prefs.join(', ') });
  if (tg.branches && tg.branches.length) return t('target.branches', { list: tg.branches.join(', ') });
  if (tg.devices && tg.devices.length) return t('target.devices', { list: tg.devices.join(', ') });
  return '—';
}

export function headlineOf(a) {
  const tx = (a && a.texts && a.texts[0]) || {};
  return tx.headline || '—';
}

// table builds a table with a caption, header cells and rows of cells.
// A header given as {num: label} is right-aligned like its numbers.
export function table(caption, headers, rows) {
  return h('div', { class: 'table-wrap' },
    h('table', null,
      caption ? h('caption', null, caption) : null,
      h('thead', null, h('tr', null, headers.map((x) => (x && x.num !== undefined
        ? h('th', { scope: 'col', class: 'num' }, x.num) : h('th', { scope: 'col' }, x))))),
      h('tbody', null, rows)));
}

export function dl(pairs) {
  return h('dl', { class: 'kv' }, pairs.map(([k, v]) => [h('dt', null, k), h('dd', null, v)]));
}

export function fmtBytes(n) {
  if (!(n >= 0)) return '—';
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}
