import { h, clear, fmtTime, uid, fromLocalInput } from '../dom.js';
import { t, getLang, errText } from '../i18n.js';
import { Message, table } from '../ui.js';

const PAGE = 100;

export function auditView(ctx) {
  const msg = new Message();
  const box = h('div', null, t('common.loading'));
  const user = h('input', { id: uid('au'), spellcheck: 'false' });
  const action = h('input', { id: 'audit-action', spellcheck: 'false', placeholder: 'alert.approve, alert.' });
  const target = h('input', { id: uid('at'), spellcheck: 'false', placeholder: 'alert/…' });
  const since = h('input', { id: uid('as'), type: 'datetime-local' });
  const until = h('input', { id: uid('ad'), type: 'datetime-local' });
  const verifyMsg = new Message();
  // Paging is by seq: "before" is the last seq of the page; older pages
  // are pushed on a stack so "previous" can go back.
  let before = 0;
  const stack = [];

  async function load() {
    const p = { limit: PAGE };
    if (before) p.before = before;
    if (user.value.trim()) p.user_id = user.value.trim();
    if (action.value.trim()) p.action = action.value.trim();
    if (target.value.trim()) p.object = target.value.trim();
    if (since.value) p.since = fromLocalInput(since.value);
    if (until.value) p.until = fromLocalInput(until.value);
    try {
      const r = await ctx.api.call('audit.list', p);
      const list = r.entries || [];
      clear(box,
        table(null, ['#', t('audit.time'), t('audit.user'), t('audit.action'), t('audit.target'), t('audit.detail'), t('audit.remote')],
          list.map((e) => h('tr', null,
            h('td', { class: 'num' }, String(e.seq)), h('td', null, fmtTime(e.time, getLang())),
            h('td', null, entryUser(e)), h('td', { class: 'mono' }, e.action || ''), h('td', { class: 'mono' }, e.object || ''),
            h('td', { class: 'detail' }, detailText(e.detail)), h('td', { class: 'mono' }, (e.actor && e.actor.remote) || '')))),
        list.length ? null : h('p', null, t('common.none')),
        h('nav', { class: 'pager', 'aria-label': 'pagination' },
          h('button', { type: 'button', disabled: stack.length === 0, onclick: () => { before = stack.pop() || 0; load(); } }, t('common.prev')),
          h('button', {
            type: 'button', disabled: list.length < PAGE, onclick: () => { stack.push(before); before = list[list.length - 1].seq; load(); },
          }, t('common.next'))));
    } catch (e) { clear(box); msg.apiError(e); }
  }
  const form = h('form', { class: 'filters', novalidate: true, role: 'search' },
    lbl(user, t('audit.userId')), lbl(action, t('audit.action')), lbl(target, t('audit.target')),
    lbl(since, t('audit.since')), lbl(until, t('audit.until')),
    h('button', { type: 'submit', id: 'audit-filter' }, t('audit.filter')));
  form.addEventListener('submit', (ev) => { ev.preventDefault(); before = 0; stack.length = 0; msg.clear(); load(); });
  const verify = h('button', {
    type: 'button', onclick: async () => {
      verifyMsg.clear();
      try {
        const r = await ctx.api.call('audit.verify', {});
        if (r.ok) verifyMsg.ok(t('audit.ok', { n: r.entries }));
        else verifyMsg.error(t('audit.broken', { n: r.broken_at }) + (r.problem ? ' ' + t('err.detail', { msg: r.problem }) : ''));
      } catch (e) { verifyMsg.error(errText(e)); }
    },
  }, t('audit.verify'));
  // New entries arrive on the audit stream; show them when on the first page.
  const onPush = (ev) => { if (ev.detail.stream === 'audit' && before === 0) load(); };
  ctx.api.addEventListener('push', onPush);
  ctx.api.subscribe('audit').catch(() => {});
  load();
  return {
    el: h('section', { class: 'view', 'aria-labelledby': 'audit-title' },
      h('h1', { id: 'audit-title' }, t('audit.title')), msg.el, form,
      h('div', { class: 'actions' }, verify), verifyMsg.el, box),
    dispose() { ctx.api.removeEventListener('push', onPush); ctx.api.unsubscribe('audit'); },
  };
}

function lbl(control, text) { return h('label', { for: control.id }, text, control); }

function entryUser(e) {
  const a = e.actor || {};
  if (a.name && a.user_id) return `${a.name} (${a.user_id})`;
  return a.name || a.user_id || '';
}

function detailText(d) {
  if (d == null) return '';
  if (typeof d === 'string') return d;
  try { return JSON.stringify(d); } catch { return ''; }
}
