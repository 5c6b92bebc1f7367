import { h, clear, fmtTime } from '../dom.js';
import { t, getLang, errText } from '../i18n.js';
import { Fields, Message, can } from '../ui.js';

// guardView shows the content guard's allow-list (the only phone numbers
// and URLs alerts and slides may show); admins edit it.
export function guardView(ctx) {
  const msg = new Message();
  const fields = new Fields(msg);
  const edit = ctx.user.role === 'admin';
  const phones = h('textarea', { id: 'guard-phones', rows: '6', spellcheck: 'false', readonly: !edit });
  const urls = h('textarea', { id: 'guard-urls', rows: '6', spellcheck: 'false', readonly: !edit });
  const meta = h('p', { class: 'help' });
  const lines = (s) => String(s).split(/\n+/).map((x) => x.trim()).filter(Boolean);

  function show(l) {
    phones.value = (l.phones || []).join('\n');
    urls.value = (l.url_prefixes || []).join('\n');
    meta.textContent = l.updated_at ? t('guard.updated', { user: l.updated_by || '—', time: fmtTime(l.updated_at, getLang()) }) : '';
  }
  ctx.api.call('guard.get', {}).then(show).catch((e) => msg.apiError(e));

  const form = h('form', { class: 'panel', id: 'guard-form', novalidate: true },
    msg.el,
    fields.field('phones', t('guard.phones'), phones, t('guard.onePerLine')),
    fields.field('url_prefixes', t('guard.urls'), urls, t('guard.onePerLine')),
    meta,
    edit ? h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary', id: 'guard-save' }, t('common.save'))) : null);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    fields.clear();
    try {
      show(await ctx.api.call('guard.set', { phones: lines(phones.value), url_prefixes: lines(urls.value) }));
      msg.ok(t('guard.saved'));
    } catch (e) { fields.showError(e); if (!e.field) msg.error(errText(e)); }
  });
  return {
    el: h('section', { class: 'view', 'aria-labelledby': 'guard-title' },
      h('h1', { id: 'guard-title' }, t('guard.title')),
      h('p', { class: 'note' }, t('guard.explain')),
      edit ? null : h('p', { class: 'help' }, t('guard.readonly')),
      form),
  };
}

// canSee: roles that may read the list (content.view).
guardView.allow = (r) => can.compose(r) || can.approve(r) || r === 'viewer';
