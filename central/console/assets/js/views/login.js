import { h } from '../dom.js';
import { t, errText } from '../i18n.js';
import { Fields, Message } from '../ui.js';

export function loginView(ctx, note) {
  const msg = new Message();
  if (note) msg.info(note);
  const fields = new Fields(msg);
  const user = h('input', { name: 'username', autocomplete: 'username', required: true, autocapitalize: 'none', spellcheck: 'false' });
  const pass = h('input', { name: 'password', type: 'password', autocomplete: 'current-password', required: true });
  const btn = h('button', { type: 'submit', id: 'login-submit' }, t('login.submit'));
  const form = h('form', { class: 'card narrow', id: 'login-form', 'aria-labelledby': 'login-title', novalidate: true },
    h('h1', { id: 'login-title' }, t('login.title')),
    msg.el,
    fields.field('name', t('login.username'), user),
    fields.field('password', t('login.password'), pass),
    h('div', { class: 'actions' }, btn));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    fields.clear();
    btn.disabled = true;
    try {
      const r = await ctx.api.login(user.value.trim(), pass.value);
      ctx.loggedIn(r.user);
    } catch (e) {
      pass.value = '';
      msg.error(errText(e));
      pass.focus();
    } finally {
      btn.disabled = false;
    }
  });
  return { el: form, focus: () => user.focus() };
}

export function passwordView(ctx, first) {
  const msg = new Message();
  const fields = new Fields(msg);
  const oldp = h('input', { type: 'password', autocomplete: 'current-password', name: 'old_password' });
  const newp = h('input', { type: 'password', autocomplete: 'new-password', name: 'new_password', minlength: '12' });
  const conf = h('input', { type: 'password', autocomplete: 'new-password', name: 'confirm' });
  const btn = h('button', { type: 'submit', id: 'pw-submit' }, t('pw.submit'));
  // The hidden user name lets password managers file the new password.
  const form = h('form', { class: 'card narrow', id: 'password-form', novalidate: true },
    h('input', { type: 'text', name: 'username', autocomplete: 'username', value: (ctx.user && ctx.user.name) || '', hidden: true, readonly: true }),
    h('h1', null, t('pw.title')),
    first ? h('p', { class: 'note' }, t('pw.first')) : null,
    msg.el,
    fields.field('old_password', t('pw.old'), oldp),
    fields.field('new_password', t('pw.new'), newp),
    fields.field('confirm', t('pw.confirm'), conf),
    h('div', { class: 'actions' }, btn));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    fields.clear();
    if (newp.value !== conf.value) { fields.showText('confirm', t('pw.mismatch')); conf.focus(); return; }
    btn.disabled = true;
    try {
      await ctx.api.call('auth.change_password', { old_password: oldp.value, new_password: newp.value });
      ctx.passwordChanged();
    } catch (e) {
      if (e.code === 'bad_credentials') fields.showText('old_password', errText(e));
      else fields.showError(e);
    } finally {
      btn.disabled = false;
    }
  });
  return { el: form, focus: () => oldp.focus() };
}
