import { h, clear, fmtTime } from '../dom.js';
import { t, getLang, errText, ROLES } from '../i18n.js';
import { Fields, Message, table } from '../ui.js';

export function usersView(ctx) {
  const msg = new Message();
  const secret = h('div', { class: 'secret', 'aria-live': 'assertive', id: 'initial-password' });
  const box = h('div', null, t('common.loading'));

  function showSecret(user, pw) {
    clear(secret, h('p', null, t('users.initial', { user })), h('code', { class: 'pw', dataset: { user } }, pw));
  }
  async function act(fn) {
    msg.clear();
    try { await fn(); } catch (e) { msg.error(errText(e)); }
    await load();
  }
  async function load() {
    try {
      const r = await ctx.api.call('users.list', {});
      const users = r.users || [];
      clear(box, table(null, [t('users.username'), t('users.role'), t('users.disabled'), t('users.mustChange'), t('users.lastLogin'), ''],
        users.map((u) => {
          const self = u.id === ctx.user.id;
          const roleSel = h('select', { 'aria-label': `${t('users.setRole')} ${u.name}`, disabled: self }, ROLES.map((r) => h('option', { value: r, selected: r === u.role }, t('role.' + r))));
          roleSel.addEventListener('change', () => act(() => ctx.api.call('users.update', { id: u.id, role: roleSel.value })));
          return h('tr', { dataset: { user: u.name } },
            h('th', { scope: 'row' }, u.name, u.display_name ? ` (${u.display_name})` : ''), h('td', null, roleSel),
            h('td', null, u.disabled ? t('users.yes') : t('users.no')),
            h('td', null, u.must_change_password ? t('users.yes') : t('users.no')),
            h('td', null, fmtTime(u.last_login, getLang())),
            h('td', null, h('div', { class: 'actions' },
              h('button', {
                type: 'button', onclick: () => act(async () => {
                  const x = await ctx.api.call('users.reset_password', { id: u.id });
                  showSecret(u.name, x.initial_password);
                }),
              }, t('users.reset')),
              self ? null : u.disabled
                ? h('button', { type: 'button', onclick: () => act(() => ctx.api.call('users.update', { id: u.id, disabled: false })) }, t('users.enable'))
                : h('button', { type: 'button', class: 'danger', onclick: () => act(() => ctx.api.call('users.update', { id: u.id, disabled: true })) }, t('users.disable')))));
        })));
    } catch (e) { clear(box); msg.apiError(e); }
  }

  const cmsg = new Message();
  const fields = new Fields(cmsg);
  const uname = h('input', { id: 'new-username', autocomplete: 'off', spellcheck: 'false', autocapitalize: 'none' });
  const dname = h('input', { id: 'new-display-name', autocomplete: 'off' });
  const role = h('select', { id: 'new-role' }, ROLES.map((r) => h('option', { value: r, selected: r === 'publisher' }, t('role.' + r))));
  const form = h('form', { class: 'panel', novalidate: true, id: 'user-create', 'aria-labelledby': 'uc-title' },
    h('h2', { id: 'uc-title' }, t('users.create')), cmsg.el,
    h('div', { class: 'row' },
      fields.field('name', t('users.username'), uname),
      fields.field('display_name', t('users.displayName'), dname),
      fields.field('role', t('users.role'), role)),
    h('div', { class: 'actions' }, h('button', { type: 'submit', id: 'create-user' }, t('users.create'))));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    fields.clear();
    const p = { name: uname.value.trim(), role: role.value };
    if (dname.value.trim()) p.display_name = dname.value.trim();
    try {
      const r = await ctx.api.call('users.create', p);
      showSecret((r.user && r.user.name) || p.name, r.initial_password);
      uname.value = '';
      dname.value = '';
      await load();
    } catch (e) { fields.showError(e); }
  });
  load();
  return {
    el: h('section', { class: 'view', 'aria-labelledby': 'users-title' },
      h('h1', { id: 'users-title' }, t('users.title')), msg.el, secret, form, box),
  };
}
