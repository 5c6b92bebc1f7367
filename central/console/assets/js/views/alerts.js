import { h, clear, fmtTime, uid } from '../dom.js';
import { t, getLang, errText } from '../i18n.js';
import { Message, pager, stateBadge, targetText, headlineOf, table, dl, can } from '../ui.js';

const PAGE = 50;
const STATES = ['', 'draft', 'pending_approval', 'published', 'cancelled', 'expired'];

export function alertsView(ctx, params) {
  const msg = new Message();
  const st = { state: params[0] || '', offset: 0 };
  const box = h('div', null, t('common.loading'));
  const sel = h('select', { id: uid('st') }, STATES.map((s) => h('option', { value: s, selected: s === st.state }, s ? t('state.' + s) : t('common.all'))));
  sel.addEventListener('change', () => { st.state = sel.value; st.offset = 0; load(); });

  async function load() {
    const p = { offset: st.offset, limit: PAGE };
    if (st.state) p.states = [st.state];
    try {
      const r = await ctx.api.call('alerts.list', p);
      const list = r.alerts || [];
      clear(box,
        table(null, [t('alerts.id'), t('alerts.state'), t('alerts.headline'), t('alerts.target'), { num: t('alerts.priority') }, t('alerts.by'), t('alerts.created')],
          list.map((a) => h('tr', { dataset: { alert: a.id } },
            h('th', { scope: 'row' }, h('a', { href: '#/alert/' + encodeURIComponent(a.id) }, a.id)),
            h('td', null, stateBadge(a.state)), h('td', null, headlineOf(a)), h('td', null, targetText(a.target)),
            h('td', { class: 'num' }, a.priority), h('td', null, a.created_by || '—'), h('td', null, fmtTime(a.created_at, getLang()))))),
        list.length ? null : h('p', null, t('common.none')),
        pager(st.offset, PAGE, r.total || 0, (o) => { st.offset = o; load(); }));
    } catch (e) { clear(box); msg.apiError(e); }
  }
  const onPush = (ev) => { if (ev.detail.stream === 'alerts') load(); };
  ctx.api.addEventListener('push', onPush);
  ctx.api.subscribe('alerts').catch(() => {});
  load();
  return {
    el: h('section', { class: 'view', 'aria-labelledby': 'alerts-title' },
      h('h1', { id: 'alerts-title' }, t('alerts.title')),
      can.compose(ctx.user.role) ? h('p', null, h('a', { href: '#/compose', class: 'button' }, t('alerts.new'))) : null,
      msg.el,
      h('div', { class: 'filters' }, h('label', { for: sel.id }, t('alerts.state')), sel), box),
    dispose() { ctx.api.removeEventListener('push', onPush); ctx.api.unsubscribe('alerts'); },
  };
}

// texts renders an alert's texts; every string goes in as text.
function textsPanel(a) {
  return (a.texts || []).map((tx) => h('article', { class: 'alert-text', lang: tx.lang },
    h('h3', null, `[${tx.lang}] `, tx.headline || ''),
    tx.body ? h('p', { class: 'pre' }, tx.body) : null,
    tx.instruction ? h('p', { class: 'instruction' }, tx.instruction) : null));
}

// actions returns the buttons the user may press for alert a. Each button
// shows its result (or the API's error) in msg.
function actions(ctx, a, msg, reload, okMsg = msg) {
  const role = ctx.user.role;
  const out = [];
  const act = (label, id, fn, cls) => h('button', {
    type: 'button', id, class: cls, onclick: async (ev) => {
      const b = ev.currentTarget;
      b.disabled = true;
      msg.clear();
      try { await fn(); } catch (e) { msg.error(e.prepared || errText(e)); } finally { b.disabled = false; }
    },
  }, label);
  const reason = (label) => h('input', { id: uid('reason'), 'aria-label': label, placeholder: label });
  if (a.state === 'draft' && can.compose(role)) {
    out.push(h('a', { class: 'button', id: 'act-edit', href: '#/compose/' + encodeURIComponent(a.id) }, t('alert.edit')));
    const wide = !!(a.target && (a.target.all || (a.target.prefs && a.target.prefs.length)));
    out.push(act(wide ? t('alert.submit') : t('alert.publish'), 'act-submit', async () => {
      const r = await ctx.api.call(wide ? 'alerts.submit' : 'alerts.publish', { id: a.id, version: a.version });
      msg.ok(r.state === 'published' ? t('alert.published') : t('alert.submitted'));
      reload();
    }, 'primary'));
  }
  // Approve is offered to authors too: central decides (role and the
  // two-person rule), and its refusal is explained in the page instead of
  // a button that silently is not there.
  if (a.state === 'pending_approval' && (can.approve(role) || can.compose(role))) {
    out.push(act(t('alert.approve'), 'act-approve', async () => {
      try {
        await ctx.api.call('alerts.approve', { id: a.id, version: a.version });
      } catch (e) {
        if (e.code === 'forbidden' || e.code === 'two_person_rule') e.prepared = t('err.approve_own', { role: t('role.' + role) }) + ' ' + t('err.detail', { msg: e.message });
        throw e;
      }
      okMsg.ok(t('alert.approved') + ` (${a.id})`);
      reload();
    }, 'primary'));
  }
  if (a.state === 'pending_approval' && can.approve(role)) {
    const r = reason(t('alert.rejectReason'));
    out.push(h('span', { class: 'inline' }, r, act(t('alert.reject'), 'act-reject', async () => {
      await ctx.api.call('alerts.reject', { id: a.id, version: a.version, reason: r.value.trim() });
      okMsg.ok(t('alert.rejected') + ` (${a.id})`);
      reload();
    })));
  }
  if ((a.state === 'published' || a.state === 'pending_approval' || a.state === 'draft') && can.cancel(role)) {
    const r = reason(t('alert.cancelReason'));
    out.push(h('span', { class: 'inline' }, r, act(t('alert.cancel'), 'act-cancel', async () => {
      await ctx.api.call('alerts.cancel', { id: a.id, reason: r.value.trim() });
      okMsg.ok(t('alert.cancelled') + ` (${a.id})`);
      reload();
    }, 'danger')));
  }
  out.push(act(t('alert.exportCap'), 'act-cap', async () => {
    const r = await ctx.api.call('alerts.export_cap', { id: a.id });
    const blob = new Blob([r.xml || ''], { type: 'application/xml' });
    const link = h('a', { href: URL.createObjectURL(blob), download: `${a.id}.cap.xml` });
    document.body.appendChild(link); link.click(); link.remove();
  }));
  return h('div', { class: 'actions', role: 'group', 'aria-label': 'actions' }, out);
}

// bar is one labelled progress bar (role=progressbar with aria values).
function bar(kind, label, n, total) {
  const pct = total > 0 ? Math.min(100, Math.round((n * 100) / total)) : 0;
  const id = 'bar-' + kind;
  return h('div', { class: 'bar-row' },
    h('span', { class: 'bar-label', id: id + '-label' }, label),
    h('div', {
      class: 'bar bar-' + kind, id, role: 'progressbar', 'aria-labelledby': id + '-label',
      'aria-valuemin': '0', 'aria-valuemax': String(total), 'aria-valuenow': String(n),
      'aria-valuetext': t('deliv.of', { n, total }), dataset: { n: String(n), total: String(total) },
    }, h('span', { class: 'bar-fill', style: { width: pct + '%' } })),
    h('span', { class: 'bar-num' }, t('deliv.of', { n, total })));
}

export function deliveryPanel(d) {
  const targeted = d.targeted || 0;
  const reasons = d.reject_reasons || {};
  const still = d.still_displayed || 0;
  const cancelled = d.state === 'cancelled' || d.state === 'expired';
  return [
    h('p', { class: 'sr-only' }, t('deliv.summary', { displayed: d.displayed || 0, targeted, received: d.received || 0, rejected: d.rejected || 0 })),
    bar('received', t('deliv.received'), d.received || 0, targeted),
    bar('displayed', t('deliv.displayed'), d.displayed || 0, targeted),
    bar('rejected', t('deliv.rejected'), d.rejected || 0, targeted),
    Object.keys(reasons).length ? h('div', { class: 'reasons' }, h('h3', null, t('deliv.reasons')),
      h('ul', { id: 'reject-reasons' }, Object.entries(reasons).map(([k, v]) => h('li', { dataset: { reason: k } }, `${k}: ${v}`)))) : null,
    cancelled || still > 0 ? h('p', { class: 'still' + (still === 0 ? ' still-zero' : ''), id: 'still-displayed', dataset: { n: String(still) } },
      still > 0 ? t('deliv.still', { n: still }) : t('deliv.stillZero')) : null,
    h('p', { class: 'help' }, t('deliv.updated', { time: fmtTime(d.updated_at, getLang()) })),
  ];
}

export function alertView(ctx, params) {
  const id = params[0] || '';
  const msg = new Message();
  const head = h('div', null, t('common.loading'));
  const deliv = h('div', { id: 'delivery', 'aria-live': 'polite', 'aria-atomic': 'false' });
  const preview = h('div', { class: 'previews' });
  let alert = null;
  let lastDelivery = null;

  async function load() {
    try {
      alert = await ctx.api.call('alerts.get', { id });
      clear(head,
        h('p', null, stateBadge(alert.state), ' ', t('alert.version'), ' ', String(alert.version)),
        dl([
          [t('alert.issuer'), alert.issuer || '—'], [t('alerts.priority'), String(alert.priority)],
          [t('alerts.target'), targetText(alert.target)],
          [t('alert.effective'), fmtTime(alert.effective, getLang())], [t('alert.expires'), fmtTime(alert.expires, getLang())],
          [t('alert.createdBy'), alert.created_by || '—'], [t('alert.submittedBy'), alert.submitted_by || '—'],
          [t('alert.approvedBy'), alert.approved_by || '—'], [t('alert.cancelledBy'), alert.cancelled_by || '—'],
          ['QR', alert.qr ? `${alert.qr.url} ${alert.qr.label || ''}` : '—'],
        ]),
        textsPanel(alert),
        actions(ctx, alert, msg, load));
      if (alert.state !== 'draft') loadDelivery();
      loadPreview();
    } catch (e) { clear(head); msg.apiError(e); }
  }
  async function loadDelivery() {
    try { showDelivery(await ctx.api.call('alerts.delivery', { id })); } catch (e) { /* shown when pushes arrive */ }
  }
  function showDelivery(d) {
    if (lastDelivery && d.updated_at && lastDelivery.updated_at && Date.parse(d.updated_at) < Date.parse(lastDelivery.updated_at)) return;
    lastDelivery = d;
    clear(deliv, deliveryPanel(d));
    if (alert && d.state && d.state !== alert.state) { msg.clearError(); load(); }
  }
  async function loadPreview() {
    try {
      const imgs = await Promise.all(['landscape', 'portrait'].map((o) => ctx.api.call('alerts.preview', { alert_id: id, orientation: o })));
      clear(preview, imgs.map((r, i) => {
        const o = i === 0 ? 'landscape' : 'portrait';
        const src = String(r.image || '');
        return src.startsWith('data:image/png;base64,') ? h('figure', null, h('img', { class: 'preview preview-' + o, src, alt: t('compose.previewAlt', { orient: t('compose.' + o) }) }), h('figcaption', null, t('compose.' + o))) : null;
      }));
    } catch { clear(preview); }
  }

  const onPush = (ev) => {
    const { stream, event } = ev.detail;
    if (!event) return;
    if (event.kind === 'resync') { load(); return; }
    if (stream === 'delivery' && event.delivery && event.delivery.alert_id === id) showDelivery(event.delivery);
    if (stream === 'alerts' && event.alert && event.alert.id === id && alert && (event.alert.version !== alert.version || event.alert.state !== alert.state)) {
      msg.clearError(); // e.g. a refused approval, now approved by someone else
      load();
    }
  };
  ctx.api.addEventListener('push', onPush);
  ctx.api.subscribe('delivery', id).catch((e) => msg.apiError(e));
  ctx.api.subscribe('alerts').catch(() => {});
  load();

  return {
    el: h('section', { class: 'view', 'aria-labelledby': 'alert-title' },
      h('p', null, h('a', { href: '#/alerts' }, '← ' + t('nav.alerts'))),
      h('h1', { id: 'alert-title' }, t('alert.title', { id })),
      msg.el,
      h('div', { class: 'two-col' },
        h('section', { class: 'panel' }, head),
        h('div', null,
          h('section', { class: 'panel', 'aria-labelledby': 'deliv-title' }, h('h2', { id: 'deliv-title' }, t('deliv.title')), deliv),
          h('section', { class: 'panel' }, preview)))),
    dispose() { ctx.api.removeEventListener('push', onPush); ctx.api.unsubscribe('delivery', id); ctx.api.unsubscribe('alerts'); },
  };
}

export function approvalsView(ctx) {
  const msg = new Message();
  const box = h('div', null, t('common.loading'));
  async function load() {
    try {
      const r = await ctx.api.call('alerts.list', { states: ['pending_approval'], offset: 0, limit: 100 });
      const list = r.alerts || [];
      clear(box, list.length ? h('ul', { class: 'queue' }, list.map((a) => item(a))) : h('p', null, t('appr.none')));
    } catch (e) { clear(box); msg.apiError(e); }
  }
  // Approvers judge what the customer will see: each item shows the
  // rendered screen of every language (landscape).
  function previews(a) {
    const box = h('div', { class: 'previews' });
    Promise.all((a.texts || []).map((tx) => ctx.api.call('alerts.preview', { alert_id: a.id, orientation: 'landscape', lang: tx.lang })
      .then((r) => [tx.lang, String(r.image || '')]).catch(() => [tx.lang, ''])))
      .then((list) => clear(box, list.filter(([, src]) => src.startsWith('data:image/png;base64,')).map(([lang, src]) =>
        h('figure', null, h('img', { class: 'preview preview-landscape', src, alt: t('compose.previewAlt', { orient: lang }) }), h('figcaption', null, lang)))));
    return box;
  }
  function item(a) {
    const m = new Message();
    return h('li', { class: 'card', dataset: { alert: a.id } },
      h('h2', null, headlineOf(a)),
      previews(a),
      dl([[t('alerts.id'), a.id], [t('alerts.target'), targetText(a.target)], [t('alerts.priority'), String(a.priority)],
        [t('alert.createdBy'), a.created_by || '—'], [t('alert.submittedBy'), a.submitted_by || '—']]),
      textsPanel(a),
      m.el,
      h('p', null, h('a', { href: '#/alert/' + encodeURIComponent(a.id) }, t('appr.open'))),
      can.approve(ctx.user.role) ? actions(ctx, a, m, load, msg) : null);
  }
  const onPush = (ev) => { if (ev.detail.stream === 'alerts') load(); };
  ctx.api.addEventListener('push', onPush);
  ctx.api.subscribe('alerts').catch(() => {});
  load();
  return {
    el: h('section', { class: 'view', 'aria-labelledby': 'appr-title' },
      h('h1', { id: 'appr-title' }, t('appr.title')),
      can.approve(ctx.user.role) ? null : h('p', { class: 'note' }, t('appr.onlyApprovers')),
      msg.el, box),
    dispose() { ctx.api.removeEventListener('push', onPush); ctx.api.unsubscribe('alerts'); },
  };
}
